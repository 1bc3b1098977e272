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
from ..recipes import complexity_guidance, get_recipe
from . import untrusted
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
    recipe = get_recipe(request.template)
    parts = [
        _ROLE,
        _RULES.format(cell_timeout=budgets.cell_timeout, max_cells=budgets.max_cells),
        recipe.instructions,
        complexity_guidance(request.complexity),
        untrusted.SYSTEM_RULE,
        _secrets_rule(secret_names),
    ]
    return SystemPrompt(instructions="\n\n".join(parts))


def build_opening_message(
    request: GenerationRequest, repo: dict[str, Any] | None, model: dict[str, Any] | None = None
) -> Message:
    """The first user message: the repository and model material as untrusted_data blocks and
    the warning after them (when there is any), then the request with the template's inputs."""
    blocks = material_blocks(repo, model)
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
        lines.append(f"DATA_PATH: {request.data_path}")
    if request.compare_with:
        lines.append(f"Compare with: {request.compare_with}")
    if repo and repo.get("checkout"):
        lines.append(f"The repository is checked out at {repo['checkout']} (use this absolute path in code).")
    if not blocks:
        lines.append("No repository or model metadata is attached; work from the request alone.")
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
    if repo.get("checkout"):
        head.append(f"Checkout (absolute path on the kernel's machine): {repo['checkout']}")
    deps = repo.get("dependencies") or {}
    if deps.get("python"):
        head.append(f"Python requirement: {deps['python']}")
    packages = deps.get("packages") or []
    if packages:
        shown = [f"{p.get('name')}{p.get('spec') or ''}" for p in packages[:_MAX_PACKAGES]]
        more = f" (+{len(packages) - _MAX_PACKAGES} more)" if len(packages) > _MAX_PACKAGES else ""
        head.append(f"Declared dependencies: {', '.join(shown)}{more}")
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
