"""The system prompt and the opening message of a generation.

The system prompt holds only Cookbook's own instructions (how to work, the template, the complexity,
the secrets' names and the rule for untrusted material). The repository's context pack and the
model's metadata and card come from outside: they open the first user message as labelled
`untrusted_data` blocks, followed by a warning and then the user's request (see `untrusted`). That
order keeps the stable part first for prompt caching: tools, instructions, the material blocks up
to the warning (which carries a `cache_point` hint), then the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..ingest.context import filter_injection_phrases
from ..portable import RepoLocation, setup_code
from ..recipes import complexity_guidance, instructions_for
from . import untrusted
from .follow_up import render_current_notebook
from .providers.base import Block, Message, SystemPrompt

if TYPE_CHECKING:
    from .types import Budgets, GenerationRequest

_CARD_CHARS = {"description": 2000, "usage": 6000, "limitations": 1500}
_MAX_PACKAGES = 60

_ROLE = """\
You are Cookbook, an expert Python engineer who writes runnable Jupyter notebooks (cookbooks) that \
show how to use a repository and a Hugging Face model for what the user asked. You work inside the \
user's own running Jupyter kernel through tools, one small, verified step at a time."""

_RULES = """\
How to work:
- Build the notebook with create_cell, then run each code cell with execute_cell and read the \
result. If it fails, fix it with edit_cell and run it again, or delete_cell and try another way.
- Only cells whose latest run succeeded end up in the notebook, in the order you created them, and \
the notebook must run top to bottom in a fresh kernel. So create cells in reading order, never rely \
on state from cells you deleted or changed later, and re-run a cell after editing anything it \
depends on.
- Add short markdown cells (type "markdown") before code to explain what and why. Do not repeat the \
code's output in prose.
- Keep every cell fast (well under {cell_timeout:.0f} seconds): small inputs, small models where \
the request allows, no infinite loops, no interactive input() or widgets that wait for a person.
- Install a missing package only when it is not importable: check with \
importlib.util.find_spec(...) and then use `%pip install -q <package>`. Never upgrade or remove \
packages the kernel already has.
- Explore the repository with list_files_in_repo, search_repo and read_file_from_repo before \
guessing its API; prefer its documented entry points and examples.
- At most {max_cells} cells. Call finish(summary) as soon as the validated cells fulfil the request."""


def build_system_prompt(
    *,
    request: GenerationRequest,
    repo: dict[str, Any] | None,
    model: dict[str, Any] | None,
    budgets: Budgets,
    secret_names: Sequence[str] = (),
) -> SystemPrompt:
    """The instructions, stable per recipe and settings. `repo` and `model` are not read: what
    they hold is untrusted and goes into the opening message (`build_opening_message`)."""
    parts = [
        _ROLE,
        _RULES.format(cell_timeout=budgets.cell_timeout, max_cells=budgets.max_cells),
        instructions_for(request),  # the recipe's, rendered with its inputs
        complexity_guidance(request.complexity),
        untrusted.SYSTEM_RULE,
        _secrets_rule(secret_names),
    ]
    return SystemPrompt(instructions="\n\n".join(parts))


def build_opening_message(
    request: GenerationRequest, repo: dict[str, Any] | None, model: dict[str, Any] | None = None
) -> Message:
    """The first user message: the repository and model material as untrusted_data blocks and
    the warning after them (when there is any), then the request with the template's inputs.
    A follow-up's "Current notebook" (agent/follow_up.py: the user's own material, not the
    repository's) comes between the two, after the stable prefix."""
    blocks = material_blocks(repo, model)
    material = bool(blocks)
    follow_up = getattr(request, "follow_up", None)
    if follow_up is not None:
        blocks.append({"type": "text", "text": render_current_notebook(follow_up)})
    lines = [
        f"Request: {request.prompt}",
        f"Template: {request.template}",
        f"Complexity: {request.complexity}",
    ]
    if request.topic:
        lines.append(f"Topic: {request.topic}")
    if request.hf_model_id:
        lines.append(f"Hugging Face model: {request.hf_model_id}")
    # Only data_path, confined to the root by the server (a use_my_data topic naming a file
    # arrives there too): a topic is never offered as a path.
    if request.data_path:
        lines.append(f"DATA_PATH (relative to the notebook's folder, NOTEBOOK_DIR): {request.data_path}")
    if request.compare_with:
        lines.append(f"Compare with: {request.compare_with}")
    if repo and (repo.get("location") or repo.get("checkout")):
        lines.append(_setup_instructions(repo))
    if not material:
        lines.append("No repository or model metadata is attached; work from the request alone.")
    if follow_up is not None:
        lines.append("This request follows up on the notebook above: continue it.")
    lines.append("Plan briefly, then start building the notebook with the tools.")
    return {"role": "user", "content": [*blocks, {"type": "text", "text": "\n".join(lines)}]}


def material_blocks(repo: dict[str, Any] | None, model: dict[str, Any] | None) -> list[Block]:
    """The untrusted_data blocks for the repository and the model card, and the warning after
    them; empty when neither is attached. The warning is the end of the stable prefix, so it
    carries the `cache_point` hint (see providers.base)."""
    blocks: list[Block] = []
    if repo:
        text = untrusted.block(
            _repo_section(repo), "repository", url=repo.get("url"), commit=repo.get("commit")
        )
        blocks.append({"type": "text", "text": text})
    if model:
        text = untrusted.block(
            _model_section(model), "model_card", id=model.get("id"), revision=model.get("sha")
        )
        blocks.append({"type": "text", "text": text})
    if blocks:
        blocks.append({"type": "text", "text": untrusted.CONTEXT_WARNING, "cache_point": True})
    return blocks


def _setup_instructions(repo: dict[str, Any]) -> str:
    """Where the notebook finds the repository, and the setup cell that gets it there: Cookbook's
    own text (portable.py), so it sits in the request, outside the untrusted blocks."""
    given = repo.get("location")
    location = RepoLocation.from_dict(given) if given else RepoLocation(path=str(repo["checkout"]))
    where = f"The repository is in `{location.path}`"
    if not location.path.startswith("/"):
        where += " relative to the notebook's folder"
    if location.clone_url and location.commit:
        where += (
            f" (the setup cell clones {location.clone_url} at commit {location.commit} there when "
            "it is missing)"
        )
        if location.token_env:
            where += (
                f"; it is private, and the setup cell's git reads a token from the {location.token_env} "
                "environment variable: never write a token into a cell"
            )
    return (
        "The notebook must run unchanged on another machine: never write an absolute path of this "
        f"one into a cell. {where}. Make this setup cell the notebook's first code cell, as it is: "
        "it defines NOTEBOOK_DIR (the notebook's folder) and REPO_DIR (the repository), makes the "
        "repository importable and works from REPO_DIR. Refer to the repository's files relative "
        "to REPO_DIR, and to the user's files relative to NOTEBOOK_DIR.\n"
        f"```python\n{setup_code(location)}```"
    )


def _secrets_rule(names: Sequence[str]) -> str:
    if not names:
        return (
            "No secrets are configured. If something needs a token (a gated model, a private API), "
            "say so in a markdown cell instead of asking for one or hard-coding a value."
        )
    listed = ", ".join(sorted(names))
    return (
        f"These secrets are available as environment variables in the kernel: {listed}. Read them "
        "with os.environ['NAME']; never print, log, echo or hard-code their values."
    )


def _repo_section(repo: dict[str, Any]) -> str:
    title = repo.get("name") or repo.get("url") or "repository"
    head = [f"# Repository: {title}"]
    if repo.get("url"):
        head.append(f"URL: {repo['url']}")
    if repo.get("commit"):
        head.append(f"Commit: {repo['commit']}")
    deps = repo.get("dependencies") or {}
    if deps.get("python"):
        head.append(f"Python requirement: {deps['python']}")
    packages = deps.get("packages") or []
    # What running the project needs, apart from its dev, test, docs and optional extras.
    for label, group in (
        ("Declared dependencies", [p for p in packages if p.get("runtime", True)]),
        (
            "Development and optional dependencies (not needed to run it)",
            [p for p in packages if p.get("runtime", True) is False],
        ),
    ):
        if group:
            shown = [f"{p.get('name')}{p.get('spec') or ''}" for p in group[:_MAX_PACKAGES]]
            more = f" (+{len(group) - _MAX_PACKAGES} more)" if len(group) > _MAX_PACKAGES else ""
            head.append(f"{label}: {', '.join(shown)}{more}")
    hf_ids = repo.get("hf_ids") or []
    if hf_ids:
        head.append(
            "Hugging Face ids mentioned in the repository: " + ", ".join(h["id"] for h in hf_ids[:10])
        )
    context = (repo.get("context") or {}).get("markdown") or ""
    return "\n".join(head) + ("\n\n" + context if context else "")


def _model_section(model: dict[str, Any]) -> str:
    lines = [f"# Hugging Face model: {model.get('id')}"]
    for key, label in (
        ("sha", "Revision"),
        ("pipeline_tag", "Task"),
        ("library_name", "Library"),
        ("license", "License"),
    ):
        if model.get(key):
            lines.append(f"{label}: {model[key]}")
    if model.get("gated"):
        lines.append("Gated: yes (downloading needs an accepted licence and a token)")
    card = model.get("card") or {}
    for key, label in (("description", "Description"), ("usage", "Usage"), ("limitations", "Limitations")):
        # The same best-effort filter as the repository's pack; the block around it is the defence.
        text = filter_injection_phrases(card.get(key) or "").strip()
        if text:
            limit = _CARD_CHARS[key]
            cut = text if len(text) <= limit else text[:limit] + "\n[... cut]"
            lines.append(f"\n## {label} (from the model card)\n{cut}")
    return "\n".join(lines)
