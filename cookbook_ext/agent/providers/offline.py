"""A provider with no model behind it: builds a cookbook from the repository's own material.

It plans candidate cells (an install cell for missing dependencies, the README's code blocks, the
example scripts, the model card's usage snippets) and drives the same tools as a real model: for
each candidate a code cell, run it; if it works, put a markdown heading above it, if not, delete it.
Deterministic, free, and the default when no API key is configured.

The intro, install and setup cells are scaffolding: they are worth keeping only around something
that runs. The intro is written once the first real candidate (a README block, an example, a model
card snippet, a look at the user's data) has run; when none does, the setup cells that did run are
deleted again and the generation fails with code `nothing_validated` instead of finishing with a
notebook that only installs packages and changes folder.
"""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
from dataclasses import dataclass
from typing import Any

from ...markdown import code_blocks
from .base import Message, ModelTurn, Provider, ProviderError, SystemPrompt, ToolCall, ToolSpec, Usage

_PYTHON_LANGS = frozenset({"python", "py", "python3", "ipython", "ipython3", "pycon", "jupyter"})
_SHELL_LANGS = frozenset({"bash", "sh", "shell", "console", "zsh", "shell-session"})
_PIP_LINE = re.compile(r"^\s*(?:\$\s*)?[!%]?(?:python3?\s+-m\s+)?pip3?\s+install\s+(?P<args>.+)$", re.M)
_PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TRAINING = re.compile(
    r"\.fit\(|Trainer\(|\.train\(|\.backward\(|num_train_epochs|--epochs|optimizer\.step\("
)
# pip distribution name -> the module it provides, where they differ (lower-case keys).
_MODULES = {
    "scikit-learn": "sklearn",
    "pillow": "PIL",
    "opencv-python": "cv2",
    "opencv-python-headless": "cv2",
    "pyyaml": "yaml",
    "beautifulsoup4": "bs4",
    "protobuf": "google.protobuf",
    "python-dateutil": "dateutil",
    "python-dotenv": "dotenv",
    "huggingface-hub": "huggingface_hub",
    "sentence-transformers": "sentence_transformers",
    "faiss-cpu": "faiss",
    "faiss-gpu": "faiss",
    "pytorch-lightning": "pytorch_lightning",
    "scikit-image": "skimage",
    "tensorflow-cpu": "tensorflow",
    "attrs": "attr",
    "pymupdf": "fitz",
    "llama-cpp-python": "llama_cpp",
}
# Hub library_name values whose pip name differs from the library name.
_HUB_LIBRARIES = {"sentence-transformers": "sentence-transformers", "transformers": "transformers"}
_MAX_REQUIREMENTS = 40
# Per complexity: how many snippet cells to keep at most, and how many to try at most.
_CAPS = {"basic": (3, 5), "intermediate": (6, 8), "advanced": (9, 12)}


@dataclass
class Candidate:
    title: str
    explanation: str
    code: str | None  # None: a markdown-only cell
    essential: bool = False  # setup cells are not counted against the snippet caps
    scaffold: bool = False  # intro, install, setup: kept only when a real candidate ran too
    # Whose code this is: "repository" or "model_card" (a stranger's, so it runs only with the
    # user's approval until the repository is trusted), or None for Cookbook's own scaffolding.
    origin: str | None = None


class OfflineProvider(Provider):
    """Plays the model's part from a precomputed plan; usage is always zero."""

    name = "offline"
    display_name = "Offline (the repository's own examples)"

    def __init__(self, model: str | None = None, **_ignored: Any) -> None:
        self.model = model or "repository-examples"
        self._plan: list[Candidate] = []
        self._caps = _CAPS["basic"]
        self._next = 0
        self._tried = 0
        self._kept: list[str] = []
        self._calls = 0
        self._awaiting: str | None = None  # "created" or "executed": what the last turn asked for
        self._ids: dict[str, str] = {}  # role -> tool_use id of the pending call
        self._code_cell = ""  # the current candidate's cell id
        self._current: Candidate | None = None
        self._subject = "this project"
        self._useful = 0  # real (not scaffold) candidates that ran
        self._deferred: list[Candidate] = []  # markdown-only cells waiting for a real success
        self._cells: list[str] = []  # cells kept so far, in notebook order ("" until its id is known)
        self._pending: dict[str, int] = {}  # create_cell call id -> its slot in _cells

    def prepare(self, *, request: Any, repo: dict[str, Any] | None, model: dict[str, Any] | None) -> None:
        self._plan = plan_candidates(request, repo, model)
        self._caps = _CAPS.get(getattr(request, "complexity", "basic"), _CAPS["basic"])
        self._subject = (repo or {}).get("name") or (model or {}).get("id") or "this project"

    async def next_turn(
        self,
        *,
        system: SystemPrompt,
        messages: list[Message],
        tools: list[ToolSpec],
        cancel: asyncio.Event,
    ) -> ModelTurn:
        results = _tool_results(messages[-1]) if messages else {}
        self._resolve(results)
        calls: list[ToolCall] = []
        notes: list[str] = []
        if self._awaiting == "cleared":
            self._awaiting = None
            raise ProviderError(self._nothing_runnable(), code="nothing_validated")
        if self._awaiting == "created":
            code_cell = _field(results.get(self._ids.get("code", "")), "cell_id")
            if code_cell is None:
                if not self._useful:
                    return self._clear(calls, notes)
                return self._finish("Stopped: the notebook would not take more cells.")
            self._code_cell = code_cell
            self._ids = {"execute": self._call(calls, "execute_cell", {"cell_id": code_cell})}
            self._awaiting = "executed"
            return ModelTurn(text=f"Running {code_cell}.", tool_calls=calls, stop_reason="tool_use")
        if self._awaiting == "executed" and self._current is not None:
            report = _parse(results.get(self._ids.get("execute", "")))
            if report is not None and not report.get("has_error"):
                self._keep(calls, notes)
            else:
                error = (report or {}).get("error") or {}
                reason = (
                    f"{error.get('ename')}: {error.get('evalue')}" if error else (report or {}).get("status")
                )
                notes.append(f"That did not work ({_one_line(str(reason))}); removing it.")
                self._call(calls, "delete_cell", {"cell_id": self._code_cell})
        candidate = self._pick()
        while candidate is not None and candidate.code is None:  # markdown needs no trial run
            if self._useful:
                self._call(calls, "create_cell", {"code": self._heading(candidate), "type": "markdown"})
                notes.append(f"Writing: {candidate.title}.")
            else:  # written above the first cell once something real has run
                self._deferred.append(candidate)
            candidate = self._pick()
        if candidate is None:
            if not self._useful:
                return self._clear(calls, notes)
            turn = self._finish(self._summary())
            turn.tool_calls[:0] = calls
            turn.text = " ".join([*notes, turn.text])
            return turn
        self._current = candidate
        self._ids = {
            "code": self._call(
                calls, "create_cell", {"code": candidate.code, "type": "code"}, origin=candidate.origin
            )
        }
        self._awaiting = "created"
        notes.append(f"Trying: {candidate.title}.")
        return ModelTurn(text=" ".join(notes), tool_calls=calls, stop_reason="tool_use")

    def _heading(self, candidate: Candidate) -> str:
        level = "#" if candidate is self._plan[0] else "##"  # the intro is the notebook's title
        return f"{level} {candidate.title}\n\n{candidate.explanation}".strip()

    # -- plan bookkeeping ------------------------------------------------------------------------

    def _pick(self) -> Candidate | None:
        keep_cap, try_cap = self._caps
        while self._next < len(self._plan):
            candidate = self._plan[self._next]
            self._next += 1
            if candidate.essential:
                return candidate
            if len(self._kept) >= keep_cap or self._tried >= try_cap:
                return None
            self._tried += 1
            return candidate
        return None

    def _keep(self, calls: list[ToolCall], notes: list[str]) -> None:
        """The current candidate ran: write what waited for a real success, then its heading."""
        current = self._current
        assert current is not None
        if not current.essential:
            self._kept.append(current.title)
        if not current.scaffold:
            self._useful += 1
            if self._useful == 1:
                first = next((c for c in self._cells if c), self._code_cell)
                for deferred in self._deferred:
                    self._call(
                        calls,
                        "create_cell",
                        {"code": self._heading(deferred), "type": "markdown", "before": first},
                    )
                    notes.append(f"Writing: {deferred.title}.")
                self._deferred.clear()
        # The heading goes in only now, above the code, so a failed attempt never shows one.
        heading = self._call(
            calls,
            "create_cell",
            {"code": self._heading(current), "type": "markdown", "before": self._code_cell},
        )
        self._pending[heading] = len(self._cells)
        self._cells += ["", self._code_cell]

    def _resolve(self, results: dict[str, str]) -> None:
        """Learn the ids of the headings created last turn (the setup may have to go again)."""
        for call_id, slot in list(self._pending.items()):
            if call_id in results:
                self._cells[slot] = _field(results[call_id], "cell_id") or ""
                del self._pending[call_id]

    def _clear(self, calls: list[ToolCall], notes: list[str]) -> ModelTurn:
        """Nothing real ran: delete the setup cells that did, then end (next turn) as failed."""
        # A heading asked for in this very turn is not written at all: its id is not known yet.
        calls[:] = [c for c in calls if c.id not in self._pending]
        self._pending.clear()
        leftovers = [c for c in self._cells if c]
        if not leftovers and not calls:
            raise ProviderError(self._nothing_runnable(), code="nothing_validated")
        for cell_id in leftovers:
            self._call(calls, "delete_cell", {"cell_id": cell_id})
        self._cells.clear()
        self._awaiting = "cleared"
        if leftovers:
            notes.append("Nothing from the repository or the model card ran, so the setup cells go too.")
        return ModelTurn(text=" ".join(notes), tool_calls=calls, stop_reason="tool_use", usage=Usage())

    def _nothing_runnable(self) -> str:
        if self._tried == 0:
            found = (
                f"Nothing runnable was found for {self._subject}: it has no Python code block in "
                "its README, no example script or notebook, and no usage snippet on a model card."
            )
        else:
            found = (
                f"Nothing runnable was found for {self._subject}: none of the {self._tried} "
                "example(s) tried (README code blocks, example scripts, model card snippets) ran "
                "successfully in this kernel."
            )
        return (
            f"{found} No notebook was made. Try a model-backed provider (Anthropic or OpenAI), "
            "or a repository or model id with runnable examples."
        )

    def _summary(self) -> str:
        kept = self._kept
        if not kept:  # only the user's data was looked at
            return "Looked at the data; no example from the repository or the model card ran in this kernel."
        return f"Kept {len(kept)} working example(s): " + "; ".join(kept) + "."

    def _finish(self, summary: str) -> ModelTurn:
        calls: list[ToolCall] = []
        self._call(calls, "finish", {"summary": summary})
        self._awaiting = None
        return ModelTurn(text=summary, tool_calls=calls, stop_reason="tool_use", usage=Usage())

    def _call(
        self, calls: list[ToolCall], name: str, arguments: dict[str, Any], origin: str | None = None
    ) -> str:
        self._calls += 1
        call_id = f"offline_{self._calls}"
        calls.append(ToolCall(id=call_id, name=name, arguments=arguments, origin=origin))
        return call_id


# -- planning --------------------------------------------------------------------------------------


def plan_candidates(
    request: Any, repo: dict[str, Any] | None, model: dict[str, Any] | None
) -> list[Candidate]:
    """The cells to try, in order: intro, install, setup, (data), then snippets by template."""
    repo = repo or {}
    model = model or {}
    template = getattr(request, "template", "quickstart")
    complexity = getattr(request, "complexity", "basic")
    plan = [_intro(request, repo, model)]
    readme_blocks = [b for r in repo.get("readmes") or [] for b in _readme_candidates(r)]
    install = _install_candidate(repo, model, readme_blocks)
    if install:
        plan.append(install)
    if repo.get("checkout"):
        plan.append(_setup_candidate(repo["checkout"]))
    # Only data_path, which the server confined to the root (a use_my_data topic naming a file
    # arrives there too): a topic is never read as a path.
    data_path = getattr(request, "data_path", None)
    if template == "use_my_data" and data_path:
        plan.append(_data_candidate(data_path))

    readme = [c for c in readme_blocks if isinstance(c, Candidate)]
    card = _card_candidates(model)
    examples = _example_candidates(repo)
    if complexity == "basic":
        examples = [c for c in examples if not _TRAINING.search(c.code or "")]
        readme = [c for c in readme if not _TRAINING.search(c.code or "")]
    if template == "deep_dive":
        snippets = readme + sorted(examples, key=lambda c: len(c.code or "")) + card
    elif template == "ab_arena":
        snippets = _arena(card, model, getattr(request, "compare_with", None)) + readme + examples
    else:
        snippets = readme + card + examples
    seen: set[str] = set()
    for candidate in snippets:
        key = _normalise(candidate.code or "")
        if key and key not in seen:
            seen.add(key)
            plan.append(candidate)
    return plan


def _intro(request: Any, repo: dict[str, Any], model: dict[str, Any]) -> Candidate:
    subject = repo.get("name") or model.get("id") or "this project"
    lines = [f"What this notebook does: {getattr(request, 'prompt', '').strip()}"]
    if repo.get("url"):
        lines.append(
            f"Repository: {repo['url']}" + (f" at `{repo['commit'][:12]}`" if repo.get("commit") else "")
        )
    if model.get("id"):
        lines.append(f"Model: [{model['id']}](https://huggingface.co/{model['id']})")
    lines.append(
        "Built offline from the repository's own examples and the model card's snippets; "
        "every code cell below ran successfully when it was generated."
    )
    return Candidate(
        title=f"Cookbook: {subject}",
        explanation="\n\n".join(lines),
        code=None,
        essential=True,
        scaffold=True,
    )


def _requirement(name: str, spec: str | None) -> tuple[str, str] | None:
    """(pip requirement, module) for a declared dependency, or None for what pip cannot name."""
    name = name.strip()
    base = re.split(r"[\[<>=!~; ]", name, maxsplit=1)[0]
    if not base or not _PACKAGE_NAME.match(base) or base.lower() in {"python", "pip", "setuptools", "wheel"}:
        return None
    spec = (spec or "").strip()
    if spec and spec[0] in "<>=!~":
        requirement = f"{base}{spec}"
    elif spec.lower().startswith(base.lower()):
        requirement = spec
    else:
        requirement = base
    module = _MODULES.get(base.lower(), base.replace("-", "_").replace(".", "_"))
    return requirement, module


def _install_candidate(
    repo: dict[str, Any], model: dict[str, Any], readme_blocks: list[Candidate | tuple[str, str]]
) -> Candidate | None:
    wanted: dict[str, tuple[str, str]] = {}  # lower-case name -> (requirement, module)
    own = (repo.get("name") or "").lower().replace("_", "-")
    for package in (repo.get("dependencies") or {}).get("packages") or []:
        req = _requirement(str(package.get("name", "")), package.get("spec"))
        name = str(package.get("name", "")).lower()
        if req and name != own:
            wanted.setdefault(name, req)
    for item in readme_blocks:  # packages the README tells the reader to pip install
        if isinstance(item, tuple):
            req = _requirement(item[0], None)
            if req and item[0].lower() != own:
                wanted.setdefault(item[0].lower(), req)
    library = model.get("library_name")
    if library and library.lower() not in wanted:
        req = _requirement(_HUB_LIBRARIES.get(library, library), None)
        if req:
            wanted[library.lower()] = req
    if not wanted:
        return None
    pairs = list(wanted.values())[:_MAX_REQUIREMENTS]
    listing = "\n".join(f"    {req!r}: {module!r}," for req, module in pairs)
    code = f"""\
import importlib.metadata
import importlib.util
import re
import shlex

# pip requirement -> the module it provides
requirements = {{
{listing}
}}


def is_installed(requirement, module):
    try:
        if importlib.util.find_spec(module) is not None:
            return True
    except (ImportError, ValueError):
        pass
    try:
        importlib.metadata.distribution(re.split(r"[\\[<>=!~; ]", requirement)[0])
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


missing = [req for req, module in requirements.items() if not is_installed(req, module)]
if missing:
    to_install = " ".join(shlex.quote(req) for req in missing)
    %pip install -q {{to_install}}
    importlib.invalidate_caches()
    still_missing = [req for req in missing if not is_installed(req, requirements[req])]
    if still_missing:
        raise ImportError("Could not install: " + ", ".join(still_missing))
print(f"{{len(requirements) - len(missing)}} of {{len(requirements)}} requirements were already installed.")
"""
    return Candidate(
        title="Install the requirements",
        explanation="Installs only what the repository needs and this kernel cannot import yet.",
        code=code,
        essential=True,
        scaffold=True,
        origin="repository",  # the package names are the repository's
    )


def _setup_candidate(checkout: str) -> Candidate:
    code = f"""\
import os
import sys
from pathlib import Path

REPO_DIR = Path({checkout!r})
# The repository's examples import its modules and open files relative to its root.
if REPO_DIR.is_dir():
    if str(REPO_DIR) not in sys.path:
        sys.path.insert(0, str(REPO_DIR))
    os.chdir(REPO_DIR)
print("Working in", Path.cwd())
"""
    return Candidate(
        title="Work from the repository",
        explanation="Makes the checkout importable and its relative paths resolve, as its examples expect.",
        code=code,
        essential=True,
        scaffold=True,
    )


def _data_candidate(data_path: str) -> Candidate:
    code = f"""\
import csv
import json
from pathlib import Path

DATA_PATH = Path({data_path!r}).expanduser()
if not DATA_PATH.exists():
    raise FileNotFoundError(f"No file or folder at {{DATA_PATH}}")
if DATA_PATH.is_dir():
    files = sorted(p for p in DATA_PATH.rglob("*") if p.is_file())
    print(f"{{len(files)}} files under {{DATA_PATH}}; the first few:")
    for path in files[:20]:
        print(" ", path.relative_to(DATA_PATH), f"({{path.stat().st_size:,}} bytes)")
else:
    suffix = DATA_PATH.suffix.lower()
    with DATA_PATH.open(encoding="utf-8", errors="replace") as handle:
        if suffix in (".csv", ".tsv"):
            rows = list(csv.reader(handle, delimiter="\\t" if suffix == ".tsv" else ","))
            print(f"{{len(rows)}} rows; header: {{rows[0] if rows else []}}")
            for row in rows[1:6]:
                print(row)
        elif suffix == ".jsonl":
            records = [json.loads(line) for line in handle if line.strip()]
            print(f"{{len(records)}} records; the first: {{records[:1]}}")
        elif suffix == ".json":
            data = json.load(handle)
            print(type(data).__name__, "with", len(data), "entries")
        else:
            print(handle.read(2000))
"""
    return Candidate(
        title="Look at the data",
        explanation=f"A first look at `{data_path}`: what is there and what it looks like.",
        code=code,
        essential=True,
    )


def _readme_candidates(readme: dict[str, Any]) -> list[Candidate | tuple[str, str]]:
    """Python blocks become candidates; shell blocks contribute pip packages as (name, '') pairs."""
    out: list[Candidate | tuple[str, str]] = []
    path = readme.get("path") or "README.md"
    for block in readme.get("code_blocks") or []:
        lang = (block.get("lang") or "").lower()
        code = block.get("code") or ""
        if lang in _SHELL_LANGS or (not lang and _PIP_LINE.search(code)):
            out.extend((name, "") for name in _pip_packages(code))
        elif lang in _PYTHON_LANGS or not lang:
            cleaned = _python_code(code, pycon=lang == "pycon" or code.lstrip().startswith(">>>"))
            if cleaned and (lang or _parses_as_python(cleaned)):
                heading = block.get("heading") or "Example"
                out.append(
                    Candidate(
                        title=heading,
                        explanation=f"From the repository's `{path}`.",
                        code=cleaned,
                        origin="repository",
                    )
                )
    return out


def _example_candidates(repo: dict[str, Any]) -> list[Candidate]:
    out = []
    for example in repo.get("examples") or []:
        code = (example.get("code") or "").strip()
        path = example.get("path") or ""
        # README blocks arrive through the readmes; scripts and notebooks only through here.
        if not code or len(code) > 20_000 or example.get("kind") not in ("script", "notebook"):
            continue
        title = example.get("title") or path
        out.append(
            Candidate(
                title=f"Example: {title}",
                explanation=f"From `{path}` in the repository.",
                code=code,
                origin="repository",
            )
        )
    return out


def _card_candidates(model: dict[str, Any]) -> list[Candidate]:
    usage = ((model.get("card") or {}).get("usage") or "").strip()
    out = []
    for block in code_blocks(usage):
        if block.lang and block.lang not in _PYTHON_LANGS:
            continue
        code = _python_code(block.code, pycon=block.code.lstrip().startswith(">>>"))
        if code:
            out.append(
                Candidate(
                    title="Usage from the model card",
                    explanation=f"The usage snippet published with `{model.get('id')}`.",
                    code=code,
                    origin="model_card",
                )
            )
    return out


def _arena(card: list[Candidate], model: dict[str, Any], compare_with: str | None) -> list[Candidate]:
    """Model A's card snippet, then the same snippet with model B swapped in where the id appears."""
    model_id = model.get("id")
    if not card or not model_id or not compare_with or "/" not in compare_with:
        return card
    first = card[0]
    a = Candidate(
        title=f"Contender A: {model_id}", explanation=first.explanation, code=first.code, origin=first.origin
    )
    out = [a]
    if first.code and model_id in first.code:
        b_code = first.code.replace(model_id, compare_with.strip())
        out.append(
            Candidate(
                title=f"Contender B: {compare_with.strip()}",
                explanation="The same code with the other model swapped in, for a side-by-side look.",
                code=b_code,
                origin=first.origin,
            )
        )
    return out + card[1:]


def _pip_packages(shell: str) -> list[str]:
    names = []
    for match in _PIP_LINE.finditer(shell):
        for token in match.group("args").split():
            token = token.strip("'\"")
            if token.startswith("-") or "/" in token or token in (".", "..") or "://" in token:
                continue
            if _PACKAGE_NAME.match(re.split(r"[\[<>=!~]", token, maxsplit=1)[0] or "-"):
                names.append(token)
    return names


def _python_code(code: str, *, pycon: bool) -> str:
    lines = code.splitlines()
    if pycon:
        kept = []
        for line in lines:
            if line.startswith(">>> ") or line == ">>>":
                kept.append(line[4:])
            elif line.startswith("... ") or line == "...":
                kept.append(line[4:])
        lines = kept
    # A bare `pip install` line in a Python block is a syntax error; the magic is what was meant.
    lines = [re.sub(r"^(\s*)pip install ", r"\1%pip install ", line) for line in lines]
    text = textwrap.dedent("\n".join(lines)).strip()
    return (
        text if any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()) else ""
    )


def _parses_as_python(code: str) -> bool:
    """For unlabelled README blocks: Python that compiles and does something (not a bare word)."""
    try:
        compile(code, "<readme>", "exec")
    except (SyntaxError, ValueError):
        return False
    return "import " in code or "(" in code


def _normalise(code: str) -> str:
    return re.sub(r"\s+", " ", code).strip()


# -- reading tool results --------------------------------------------------------------------------


def _tool_results(message: Message) -> dict[str, str]:
    if message.get("role") != "user":
        return {}
    return {
        block["tool_use_id"]: block.get("content", "")
        for block in message.get("content", [])
        if block.get("type") == "tool_result"
    }


def _parse(content: str | None) -> dict[str, Any] | None:
    if not content:
        return None
    try:
        value = json.loads(content)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _field(content: str | None, key: str) -> str | None:
    value = (_parse(content) or {}).get(key)
    return value if isinstance(value, str) else None


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
