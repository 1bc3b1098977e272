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
import dataclasses
import json
import posixpath
import re
import textwrap
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ...ingest.deps import requirements_file_group
from ...markdown import CodeBlock, code_blocks
from ...portable import RepoLocation, pin_revision, setup_code, unpin_revision
from ...recipes import offline_hints
from ..requirements import KNOWN_MODULES, import_check, imported_modules, modules_of, normalise
from ..tools import parse_execution_result
from .base import (
    CellSource,
    Message,
    ModelTurn,
    Provider,
    ProviderError,
    SystemPrompt,
    ToolCall,
    ToolSpec,
    Usage,
)
from .repairs import MAX_REPAIRS, Repair, RepairContext, propose
from .snippets import bm25_scores, code_words, first_line, gist, names, words

_PYTHON_LANGS = frozenset({"python", "py", "python3", "ipython", "ipython3", "pycon", "jupyter"})
_SHELL_LANGS = frozenset({"bash", "sh", "shell", "console", "zsh", "shell-session"})
_PIP_LINE = re.compile(r"^\s*(?:\$\s*)?[!%]?(?:python3?\s+-m\s+)?pip3?\s+install\s+(?P<args>.+)$", re.M)
_PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TRAINING = re.compile(
    r"\.fit\(|Trainer\(|\.train\(|\.backward\(|num_train_epochs|--epochs|optimizer\.step\("
)
# pip distribution name -> the module it provides, where they differ (see agent/requirements.py).
_MODULES = {name: modules[0] for name, modules in KNOWN_MODULES.items()}
# Hub library_name values whose pip name differs from the library name.
_HUB_LIBRARIES = {"sentence-transformers": "sentence-transformers", "transformers": "transformers"}
_MAX_REQUIREMENTS = 40
# Snippet cells kept and tried until prepare() reads the recipe's hints (offline_hints).
_DEFAULT_CAPS = (3, 5)


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
    # Snippets only. What it is ("readme", "script", "notebook", "model_card"), its key in the
    # plan, the keys of the earlier snippets of its document whose names it uses (it runs after
    # them, and not at all when one of them failed), the repository file it comes from.
    kind: str = ""
    key: str = ""
    needs: tuple[str, ...] = ()
    path: str | None = None
    # What it is about (stemmed words, for relevance to the request), and titles to fall back on,
    # most telling first, when its own title repeats another snippet's.
    about: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = ()
    installs: tuple[str, ...] = ()  # the install cell's requirements, named on its approval card


class OfflineProvider(Provider):
    """Plays the model's part from a precomputed plan; usage is always zero."""

    name = "offline"
    display_name = "Offline (the repository's own examples)"
    uses_model = False  # its progress speaks of examples and snippets; usage is always zero

    def __init__(self, model: str | None = None, **_ignored: Any) -> None:
        self.model = model or "repository-examples"
        self._plan: list[Candidate] = []
        self._caps = _DEFAULT_CAPS
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
        self._ran: dict[str, bool] = {}  # snippet key -> whether it ran and was kept
        self._titles: dict[str, str] = {}  # snippet key -> its title, for notes
        self._context = RepairContext()  # what the repairs may use of the repository
        self._source = ""  # the current candidate's code as it stands, repairs included
        self._repairs: list[Repair] = []  # the repairs made to the current candidate
        self._follow_up: Any = None  # a follow-up's agent.follow_up.FollowUp
        self._already_used = 0  # snippets a follow-up skipped: the thread has them already
        self._model_id = ""
        self._failures: list[dict[str, Any]] = []  # why each snippet tried did not run

    def prepare(self, *, request: Any, repo: dict[str, Any] | None, model: dict[str, Any] | None) -> None:
        self._plan = plan_candidates(request, repo, model)
        follow_up = getattr(request, "follow_up", None)
        if follow_up is not None and any(s.strip() for s in follow_up.chain_sources):
            self._follow_up = follow_up  # continuing a notebook (else it starts one, as usual)
            self._plan, self._already_used = continue_thread(self._plan, request, follow_up)
        self._caps = offline_hints(request).caps(getattr(request, "complexity", "basic"))
        self._model_id = str((model or {}).get("id") or getattr(request, "hf_model_id", "") or "")
        self._subject = (repo or {}).get("name") or (model or {}).get("id") or "this project"
        self._titles = {c.key: c.title for c in self._plan if c.key}
        self._context = _repair_context(repo or {})

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
            what = _what(self._current)
            title = self._current.title if self._current is not None else ""
            text = f"Running {what} in the kernel: {title}."
            return ModelTurn(text=text, tool_calls=calls, stop_reason="tool_use")
        if self._awaiting == "executed" and self._current is not None:
            report = _report(results.get(self._ids.get("execute", "")))
            if report is not None and not report.get("has_error"):
                self._keep(calls, notes)
            else:
                reason = _one_line(_reason(report))
                repair = await self._repair_for(report)
                if repair is not None:
                    return self._repair(calls, repair, reason)
                self._ran[self._current.key] = False
                if not self._current.scaffold:
                    self._failures.append(report or {})
                what = _what(self._current)
                tried = f" after {len(self._repairs)} repair(s)" if self._repairs else ""
                notes.append(f"{what[0].upper()}{what[1:]} failed{tried} ({reason}); leaving it out.")
                self._call(calls, "delete_cell", {"cell_id": self._code_cell})
        candidate = self._pick(notes)
        while candidate is not None and candidate.code is None:  # markdown needs no trial run
            if self._useful:
                self._call(
                    calls,
                    "create_cell",
                    {"code": self._heading(candidate), "type": "markdown"},
                    cell=self._cell_source(candidate, heading=True),
                )
                notes.append(f"Writing: {candidate.title}.")
            else:  # written above the first cell once something real has run
                self._deferred.append(candidate)
            candidate = self._pick(notes)
        if candidate is None:
            if not self._useful:
                return self._clear(calls, notes)
            turn = self._finish(self._summary())
            turn.tool_calls[:0] = calls
            turn.text = " ".join([*notes, turn.text])
            return turn
        self._current = candidate
        self._source = candidate.code or ""
        self._repairs = []
        self._ids = {
            "code": self._call(
                calls,
                "create_cell",
                {"code": candidate.code, "type": "code"},
                origin=candidate.origin,
                cell=self._cell_source(candidate),
            )
        }
        self._awaiting = "created"
        if candidate.scaffold:
            notes.append(f"Setting up: {candidate.title}.")
        else:
            notes.append(f"Trying {_what(candidate)}: {candidate.title}.")
        return ModelTurn(text=" ".join(notes), tool_calls=calls, stop_reason="tool_use")

    def _heading(self, candidate: Candidate, repairs: list[Repair] | None = None) -> str:
        # The intro is the notebook's title; a follow-up's heading is a section of it.
        level = "#" if candidate is self._plan[0] and self._follow_up is None else "##"
        text = candidate.explanation
        if repairs:
            changes = "; ".join(r.detail for r in repairs)
            text = f"{text}\n\nChanged so that it runs here: {changes}.".strip()
        return f"{level} {candidate.title}\n\n{text}".strip()

    # -- repairs -----------------------------------------------------------------------------------

    async def _repair_for(self, report: dict[str, Any] | None) -> Repair | None:
        """The next deterministic repair for the current snippet's failure, if one applies (on a
        worker thread: naming a module's distribution may scan the installed packages once)."""
        if report is None or report.get("status") != "error" or len(self._repairs) >= MAX_REPAIRS:
            return None
        current = self._current
        if current is None or current.code is None:
            return None
        context = dataclasses.replace(self._context, snippet_path=current.path)
        tried = [r.key for r in self._repairs]
        return await asyncio.to_thread(propose, self._source, report.get("error"), context, tried)

    def _repair(self, calls: list[ToolCall], repair: Repair, reason: str) -> ModelTurn:
        """Edit the cell as the repair says and run it again; the tools emit the `repair` event."""
        self._repairs.append(repair)
        self._source = repair.code
        self._call(
            calls,
            "edit_cell",
            {"cell_id": self._code_cell, "code": repair.code},
            repair={"kind": repair.kind, "detail": repair.detail},
        )
        self._ids = {"execute": self._call(calls, "execute_cell", {"cell_id": self._code_cell})}
        self._awaiting = "executed"
        what = _what(self._current)
        text = (
            f"{what[0].upper()}{what[1:]} stopped on {reason}. "
            f"Repairing it ({repair.detail}) and running it again."
        )
        return ModelTurn(text=text, tool_calls=calls, stop_reason="tool_use")

    # -- plan bookkeeping ------------------------------------------------------------------------

    def _pick(self, notes: list[str]) -> Candidate | None:
        keep_cap, try_cap = self._caps
        while self._next < len(self._plan):
            candidate = self._plan[self._next]
            self._next += 1
            if candidate.essential:
                return candidate
            # A snippet using what an earlier one defined fails with NameError without it.
            failed = [key for key in candidate.needs if not self._ran.get(key)]
            if failed:
                self._ran[candidate.key] = False
                before = self._titles.get(failed[0], "an earlier snippet")
                notes.append(f"Skipping {candidate.title}: it builds on {before}, which did not run.")
                continue
            if len(self._kept) >= keep_cap or self._tried >= try_cap:
                return None
            self._tried += 1
            return candidate
        return None

    def _keep(self, calls: list[ToolCall], notes: list[str]) -> None:
        """The current candidate ran: write what waited for a real success, then its heading."""
        current = self._current
        assert current is not None
        self._ran[current.key] = True
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
                        cell=self._cell_source(deferred, heading=True),
                    )
                    notes.append(f"Writing: {deferred.title}.")
                self._deferred.clear()
        # The heading goes in only now, above the code, so a failed attempt never shows one.
        heading = self._call(
            calls,
            "create_cell",
            {"code": self._heading(current, self._repairs), "type": "markdown", "before": self._code_cell},
            cell=self._cell_source(current, heading=True),
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
        if self._tried == 0 and self._already_used:
            return (
                f"Nothing new was found for {self._subject}: the {self._already_used} example(s) "
                "from its README, example scripts and model card that fit are already in this "
                "notebook. No cells were added. Try a model-backed provider (Anthropic or OpenAI) "
                "to write new code for this request."
            )
        if self._tried == 0:
            found = (
                f"Nothing runnable was found for {self._subject}: it has no Python code block in "
                "its README, no example script or notebook, and no usage snippet on a model card."
            )
        else:
            found = (
                f"Nothing runnable was found for {self._subject}: none of the {self._tried} "
                "example(s) tried (README code blocks, example scripts, model card snippets) ran "
                f"successfully in this kernel{_failure_summary(self._failures)}."
            )
        made = "No cells were added." if self._follow_up is not None else "No notebook was made."
        return (
            f"{found} {made} Try a model-backed provider (Anthropic or OpenAI), "
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
        self,
        calls: list[ToolCall],
        name: str,
        arguments: dict[str, Any],
        origin: str | None = None,
        repair: dict[str, str] | None = None,
        cell: CellSource | None = None,
    ) -> str:
        self._calls += 1
        call_id = f"offline_{self._calls}"
        calls.append(
            ToolCall(id=call_id, name=name, arguments=arguments, origin=origin, repair=repair, cell=cell)
        )
        return call_id

    def _cell_source(self, candidate: Candidate, *, heading: bool = False) -> CellSource:
        """What the candidate's cell is, for its badge: where its code comes from (a heading is
        Cookbook's own text about that snippet) and its title."""
        if candidate.kind == "readme":
            kind, detail = "readme", f"{candidate.path or 'README.md'} § {candidate.title}"
        elif candidate.kind in ("script", "notebook"):
            kind, detail = "example", candidate.path or candidate.title
        elif candidate.kind == "model_card":
            kind, detail = "model_card", f"{self._model_id or 'the model'} model card"
        else:
            kind, detail = "cookbook", "Cookbook's setup" if candidate.code else "Cookbook"
        if heading:
            kind = "cookbook"
        return CellSource(kind=kind, detail=detail, title=candidate.title, installs=list(candidate.installs))


def continue_thread(plan: list[Candidate], request: Any, follow_up: Any) -> tuple[list[Candidate], int]:
    """A follow-up's plan: the next most relevant snippets the thread has not used yet (their
    code is in none of its cells), under a heading that names the follow-up. When the thread
    kept cells, the notebook has its setup already: no intro, install or setup cell again.
    Returns the plan and how many snippets were skipped as used."""
    used = [_normalise(source) for source in follow_up.chain_sources if source.strip()]
    fresh: list[Candidate] = []
    skipped = 0
    for candidate in plan:
        if candidate.scaffold:
            continue
        key = _normalise(candidate.code or "")
        if key and any(key in source for source in used):
            if not candidate.essential:
                skipped += 1
            continue
        fresh.append(candidate)
    prompt = " ".join(str(getattr(request, "prompt", "")).split())
    heading = Candidate(
        title=f"Next: {prompt[:80]}" if prompt else "Next steps",
        explanation=(
            f"Follow-up: “{prompt[:300]}”. Offline, Cookbook adds the next examples from the "
            "repository and the model card that are not in this notebook yet; a model-backed "
            "provider can write code for the request itself."
        ),
        code=None,
        essential=True,
        scaffold=True,
    )
    return [heading, *fresh], skipped


def _failure_summary(failures: list[dict[str, Any]]) -> str:
    """Why the snippets tried did not run, e.g. " (2 need torch, which is not installed; 1 was
    not run without your approval)"; empty when nothing says."""
    missing: dict[str, int] = {}
    declined = 0
    other: dict[str, int] = {}
    for report in failures:
        error = report.get("error") or {}
        if report.get("status") == "declined":
            declined += 1
        elif error.get("ename") in ("ModuleNotFoundError", "ImportError"):
            match = re.search(r"No module named ['\"]?([A-Za-z_][\w]*)", str(error.get("evalue")))
            if match:
                missing[match.group(1)] = missing.get(match.group(1), 0) + 1
            else:
                other[str(error.get("ename"))] = other.get(str(error.get("ename")), 0) + 1
        elif error.get("ename"):
            other[str(error.get("ename"))] = other.get(str(error.get("ename")), 0) + 1
    parts = [
        f"{count} need{'s' if count == 1 else ''} {module}, which is not installed"
        for module, count in missing.items()
    ]
    if declined:
        parts.append(f"{declined} {'was' if declined == 1 else 'were'} not run without your approval")
    parts += [f"{count} failed with {name}" for name, count in other.items()]
    return f" ({'; '.join(parts)})" if parts else ""


# -- planning --------------------------------------------------------------------------------------


def plan_candidates(
    request: Any, repo: dict[str, Any] | None, model: dict[str, Any] | None
) -> list[Candidate]:
    """The cells to try, in order: intro, install, setup, (data), then snippets as the recipe's
    offline hints say (recipes/format.py OfflineHints)."""
    repo = repo or {}
    model = model or {}
    hints = offline_hints(request)
    complexity = getattr(request, "complexity", "basic")
    plan = [_intro(request, repo, model)]
    readme_blocks = [b for r in repo.get("readmes") or [] for b in _readme_candidates(r)]
    if repo.get("checkout") or repo.get("location"):
        plan.append(_setup_candidate(repo))
    # Only data_path, which the server confined to the root (a use_my_data topic naming a file
    # arrives there too): a topic is never read as a path.
    data_path = getattr(request, "data_path", None)
    if hints.inspect_data and data_path:
        plan.append(_data_candidate(data_path))
    package = _package_candidate(repo)  # right after the setup cell: it uses REPO_DIR
    if package is not None:
        plan.insert(next(i for i, c in enumerate(plan) if c.title == "Work from the repository") + 1, package)

    readme = [c for c in readme_blocks if isinstance(c, Candidate)]
    card = _card_candidates(model)
    examples = _example_candidates(repo)
    if complexity in hints.skip_training:
        examples = [c for c in examples if not _TRAINING.search(c.code or "")]
        readme = [c for c in readme if not _TRAINING.search(c.code or "")]
    if hints.shortest_examples_first:
        examples = sorted(examples, key=lambda c: len(c.code or ""))
    contenders: list[Candidate] = []  # the arena's: first, whatever the request says
    if hints.arena:
        arena = _arena(card, model, getattr(request, "compare_with", None))
        if arena is not card:
            contenders, card = arena[: len(arena) - len(card) + 1], arena[len(arena) - len(card) + 1 :]
    by_kind = {"readme": readme, "model_card": card, "examples": examples}
    snippets = contenders + [c for kind in hints.snippets for c in by_kind[kind]]
    # The recipe's order is the tie-break: what fits the request comes first, and a snippet
    # after the ones of its document it builds on.
    ranked = _by_relevance(_usable(snippets), request, pinned=len(contenders))
    plan.extend(_distinct_titles(ranked))
    # Installs what the snippets that may be tried import (after the intro, before the setup).
    tries = hints.caps(complexity)[1]
    install = _install_candidate(repo, model, readme_blocks, [c for c in plan if not c.essential][:tries])
    if install:
        plan.insert(1, install)
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
    if spec and spec[0] in "<>=!~;":
        requirement = f"{base}{spec}"
    elif spec.lower().startswith(base.lower()):
        requirement = spec
    else:
        requirement = base
    return requirement, import_check(base)


def _is_runtime(package: dict[str, Any]) -> bool:
    """Whether running the project needs a declared package (ingest's `runtime`; for records
    ingested before it existed: not from an extra, a group or a dev/test/docs requirements file)."""
    runtime = package.get("runtime")
    if isinstance(runtime, bool):
        return runtime
    source = str(package.get("source") or "")
    return "[" not in source and requirements_file_group(source) is None


def _own_modules(repo: dict[str, Any]) -> set[str]:
    """The modules the repository itself provides: its top-level packages and modules (also
    under src/), and its name as a module."""
    own = {re.sub(r"[-.]", "_", str(repo.get("name") or "")).lower()} - {""}
    for entry in repo.get("files") or []:
        parts = str(entry.get("path") or "").split("/")
        if parts and parts[0] == "src":
            parts = parts[1:]
        if len(parts) == 2 and parts[1] == "__init__.py":
            own.add(parts[0])
        elif len(parts) == 1 and parts[0].endswith(".py") and parts[0] not in ("setup.py", "conftest.py"):
            own.add(parts[0][:-3])
    return own


def _install_candidate(
    repo: dict[str, Any],
    model: dict[str, Any],
    readme_blocks: list[Candidate | tuple[str, str]],
    snippets: list[Candidate],
) -> Candidate | None:
    """One cell installing what the notebook's code imports and this kernel lacks.

    Only runtime dependencies (never a dev, test, docs or lint extra or group), and only those
    whose modules one of `snippets` (the candidates that may be tried) imports, with the
    repository's version specs. When they import the repository's own package, its runtime
    dependencies are what that package imports, so they all count (the package itself is
    installed from the checkout, without dependencies). The cell installs only what is not
    importable yet: nothing there is reinstalled or upgraded.
    """
    imports: set[str] = set()
    for snippet in snippets:
        imports |= imported_modules(snippet.code or "")
    project = (repo.get("dependencies") or {}).get("project")
    project_name = str(project.get("name") or "") if isinstance(project, dict) else ""
    own_names = {normalise(n) for n in (str(repo.get("name") or ""), project_name) if n}
    own_modules = {m.lower() for m in _own_modules(repo)}
    own_modules |= {m.lower() for n in own_names for m in modules_of(n)}
    uses_own_package = any(m.lower() in own_modules for m in imports)

    wanted: dict[str, tuple[str, str]] = {}  # normalised name -> (requirement, module)

    def want(name: str, spec: str | None, *, imported_or_own: bool = False) -> None:
        key = normalise(name)
        if not key or key in own_names or key in wanted:
            return
        if not (imported_or_own or modules_of(name) & imports):
            return
        req = _requirement(name, spec)
        if req:
            wanted[key] = req

    for package in (repo.get("dependencies") or {}).get("packages") or []:
        if _is_runtime(package):
            want(str(package.get("name", "")), package.get("spec"), imported_or_own=uses_own_package)
    for item in readme_blocks:  # packages the README tells the reader to pip install
        if isinstance(item, tuple):
            want(re.split(r"[\[<>=!~; ]", item[0], maxsplit=1)[0], item[0])
    library = model.get("library_name")
    if library:
        want(_HUB_LIBRARIES.get(library, library), None)
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


# Only what this kernel cannot import yet: nothing already there is reinstalled or upgraded.
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
        explanation="Installs only what the notebook's code imports and this kernel cannot import yet.",
        code=code,
        essential=True,
        scaffold=True,
        origin="repository",  # the package names are the repository's
        installs=tuple(requirement for requirement, _ in pairs),
    )


def _setup_candidate(repo: dict[str, Any]) -> Candidate:
    """Gets the repository where the notebook expects it and works from there.

    `repo["location"]` (portable.RepoLocation, set by the server: relative to the notebook's
    folder, a GitHub clone at the pinned commit) makes a notebook that runs on another machine;
    without it (an engine caller that did not say where the notebook lives) the checkout's own
    path is used.
    """
    given = repo.get("location")
    location = RepoLocation.from_dict(given) if given else RepoLocation(path=str(repo["checkout"]))
    if location.clone_url and location.commit:
        explanation = (
            f"Gets the repository at commit `{location.commit[:12]}` into `{location.clone_dir}/` "
            "beside this notebook (a shallow clone, the first time only), makes it importable and "
            "works from its folder, as its examples expect."
            + (
                f" The repository is private: the clone takes a token from `{location.token_env}` "
                "in the kernel's environment (tick it beside Generate; the notebook holds its name only)."
                if location.token_env
                else ""
            )
        )
    else:
        explanation = (
            f"Works from the repository in `{location.path}` (relative to this notebook): makes it "
            "importable and its relative paths resolve, as its examples expect."
        )
    return Candidate(
        title="Work from the repository",
        explanation=explanation,
        code=setup_code(location),
        essential=True,
        scaffold=True,
    )


def _data_candidate(data_path: str) -> Candidate:
    """A first look at the user's data. `data_path` is relative to the notebook's folder (the
    server makes it so), resolved against NOTEBOOK_DIR since the setup cell changes folder."""
    code = f"""\
import csv
import json
import os
from pathlib import Path

# Relative to this notebook's folder (NOTEBOOK_DIR, if the setup cell above defined it).
NOTEBOOK_DIR = Path(globals().get("NOTEBOOK_DIR") or Path.cwd())
DATA_PATH = NOTEBOOK_DIR / {data_path!r}
shown = os.path.relpath(DATA_PATH, NOTEBOOK_DIR)
if not DATA_PATH.exists():
    raise FileNotFoundError(f"No file or folder at {{shown}} (relative to this notebook)")
if DATA_PATH.is_dir():
    files = sorted(p for p in DATA_PATH.rglob("*") if p.is_file())
    print(f"{{len(files)}} files under {{shown}}; the first few:")
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
    blocks = readme.get("code_blocks") or []
    context = _block_context(readme, blocks)
    found: list[Candidate] = []
    for index, block in enumerate(blocks):
        lang = (block.get("lang") or "").lower()
        code = block.get("code") or ""
        if lang in _SHELL_LANGS or (not lang and _PIP_LINE.search(code)):
            out.extend((name, "") for name in _pip_packages(code))
        elif lang in _PYTHON_LANGS or not lang:
            cleaned = _python_code(code, pycon=lang == "pycon" or code.lstrip().startswith(">>>"))
            if cleaned and (lang or _parses_as_python(cleaned)):
                heading = block.get("heading") or "Example"
                sections, lead = context[index]
                candidate = Candidate(
                    title=heading,
                    explanation=f"From the repository's `{path}`.",
                    code=cleaned,
                    origin="repository",
                    kind="readme",
                    key=f"{path}#{index}",
                    path=path,
                    about=_about([*sections, lead], cleaned),
                    alternatives=_alternatives(heading, sections, lead, cleaned),
                )
                found.append(candidate)
                out.append(candidate)
    _link(found)
    return out


def _block_context(readme: dict[str, Any], blocks: list[dict[str, Any]]) -> list[tuple[tuple[str, ...], str]]:
    """For each of the README's code blocks: the headings it sits under and the prose just
    before it, read again from the README's Markdown text (ingest keeps only the nearest
    heading). Only the nearest heading when the text is not Markdown or does not line up."""
    plain: list[tuple[tuple[str, ...], str]] = [
        ((str(b.get("heading")),) if b.get("heading") else (), "") for b in blocks
    ]
    path = str(readme.get("path") or "")
    text = readme.get("text")
    if not isinstance(text, str) or path.lower().endswith((".rst", ".txt")):
        return plain
    parsed: list[CodeBlock] = code_blocks(text)
    if len(parsed) != len(blocks) or any(
        p.code.strip() != str(b.get("code") or "").strip() for p, b in zip(parsed, blocks, strict=True)
    ):
        return plain
    return [(p.sections or fallback[0], p.lead) for p, fallback in zip(parsed, plain, strict=True)]


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
                kind=str(example.get("kind")),
                key=f"example:{path}",
                path=path,
                about=_about([path, title], code),
                alternatives=(f"Example: {posixpath.basename(path)}", "", "", f"Example: {path}"),
            )
        )
    return out


def _card_candidates(model: dict[str, Any]) -> list[Candidate]:
    usage = ((model.get("card") or {}).get("usage") or "").strip()
    out = []
    for index, block in enumerate(code_blocks(usage)):
        if block.lang and block.lang not in _PYTHON_LANGS:
            continue
        code = _python_code(block.code, pycon=block.code.lstrip().startswith(">>>"))
        # Pinned to the revision the card was read at, where the library takes one (portable.py).
        code = pin_revision(code, model.get("id"), model.get("sha"))
        if code:
            title = "Usage from the model card"
            out.append(
                Candidate(
                    title=title,
                    explanation=f"The usage snippet published with `{model.get('id')}`.",
                    code=code,
                    origin="model_card",
                    kind="model_card",
                    key=f"model_card#{index}",
                    about=_about([*block.sections, block.lead], code),
                    alternatives=_alternatives(title, (), block.lead, code),
                )
            )
    _link(out)
    return out


def _arena(card: list[Candidate], model: dict[str, Any], compare_with: str | None) -> list[Candidate]:
    """Model A's card snippet, then the same snippet with model B swapped in where the id appears."""
    model_id = model.get("id")
    if not card or not model_id or not compare_with or "/" not in compare_with:
        return card
    first = card[0]
    # A keeps the snippet's key: the card's later snippets may build on it.
    a = dataclasses.replace(first, title=f"Contender A: {model_id}", alternatives=())
    out = [a]
    if first.code and model_id in first.code:
        b_code = unpin_revision(first.code, model.get("sha")).replace(model_id, compare_with.strip())
        out.append(
            dataclasses.replace(
                first,
                title=f"Contender B: {compare_with.strip()}",
                explanation="The same code with the other model swapped in, for a side-by-side look.",
                code=b_code,
                key=f"{first.key}/b",
                alternatives=(),
            )
        )
    return out + card[1:]


# -- the repository as a package -------------------------------------------------------------------


def _package_candidate(repo: dict[str, Any]) -> Candidate | None:
    """The repository is itself a package (its pyproject.toml has [project], or it has a setup.py):
    install it from the checkout, editable and without dependencies (the install cell covers
    those), so `importlib.metadata.version(...)` and its entry points work as its docs expect."""
    project = (repo.get("dependencies") or {}).get("project")
    if not isinstance(project, dict) or not (repo.get("checkout") or repo.get("location")):
        return None
    name = str(project.get("name") or "")
    if not _PACKAGE_NAME.match(name):
        return None
    code = f"""\
import importlib
import importlib.metadata
import json
import shlex
import sys
import urllib.parse
import urllib.request
from pathlib import Path

PACKAGE = {name!r}


def installed_editable():
    \"\"\"Whether PACKAGE is installed editable from a checkout that is still there: this one, or
    one it was installed from before (a copy of this notebook re-run elsewhere keeps that one).\"\"\"
    try:
        origin = json.loads(importlib.metadata.distribution(PACKAGE).read_text("direct_url.json") or "{{}}")
    except importlib.metadata.PackageNotFoundError:
        return False
    url = urllib.parse.urlparse(str(origin.get("url") or ""))
    folder = Path(urllib.request.url2pathname(url.path))
    return bool(origin.get("dir_info", {{}}).get("editable")) and url.scheme == "file" and folder.is_dir()


if not installed_editable():
    target = shlex.quote(str(REPO_DIR))
    %pip install -q --no-deps -e {{target}}
    if not installed_editable():  # no package index for the build tools: use the ones here
        %pip install -q --no-deps --no-build-isolation -e {{target}}
    importlib.invalidate_caches()
if not installed_editable():
    raise ImportError(f"{{PACKAGE}} could not be installed from the repository; see pip's output above.")
# A src/ layout is importable in this session too, without restarting the kernel.
if (Path(REPO_DIR) / "src").is_dir() and str(Path(REPO_DIR) / "src") not in sys.path:
    sys.path.insert(0, str(Path(REPO_DIR) / "src"))
print(PACKAGE, importlib.metadata.version(PACKAGE), "is installed from the repository.")
"""
    return Candidate(
        title=f"Install {name} from the repository",
        explanation=(
            f"The repository is itself the `{name}` package: installed from this checkout "
            "(editable, without its dependencies, which the cell above installed), so its version "
            "and entry points resolve as its documentation expects."
        ),
        code=code,
        essential=True,
        scaffold=True,
        origin="repository",  # building it runs the repository's build configuration
    )


# -- what each snippet is about, and its order -----------------------------------------------------


def _about(texts: list[str], code: str) -> tuple[str, ...]:
    """The words of a snippet for relevance: its headings, prose and path count double, then
    the identifiers, docstrings and comments of its code."""
    strong = [w for text in texts for w in words(text)]
    return (*strong, *strong, *code_words(code))


def _alternatives(heading: str, sections: tuple[str, ...], lead: str, code: str) -> tuple[str, ...]:
    """Titles for a snippet whose heading repeats another's, by kind: the heading under its
    parent, the sentence introducing it, its first comment or docstring line, the call it ends on."""
    parent = f"{sections[-2]}: {heading}" if len(sections) >= 2 and sections[-1] == heading else ""
    comment = first_line(re.findall(r"^\s*#\s*(.+)$", code, re.M)) or ""
    ends_on = gist(code)
    return (
        parent,
        _sentence_title(lead),
        _clip_title(comment) if len(comment.split()) >= 2 else "",
        f"{heading}: {ends_on}" if ends_on else "",
    )


def _sentence_title(lead: str) -> str:
    """The sentence of prose that introduces a block (the last one before it), as a title."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", lead)  # images
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: their text
    text = re.sub(r"<[^>]+>|`|\*\*?", "", text)
    sentences = [s.strip().rstrip(".:!;,").strip() for s in re.split(r"(?<=[.!?:])\s+", text.strip())]
    sentence = next((s for s in reversed(sentences) if len(s.split()) >= 3), "")
    return _clip_title(sentence[:1].upper() + sentence[1:])


def _clip_title(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: text.rfind(" ", 0, limit - 1)].rstrip(",;:") + "…"


def _link(found: list[Candidate]) -> None:
    """Each snippet of a document needs the latest earlier one defining a name it uses."""
    seen: list[tuple[Candidate, frozenset[str]]] = []
    order: dict[str, int] = {}  # key -> its place in the document
    for candidate in found:
        used = names(candidate.code or "")
        needs: list[str] = []
        for name in sorted(used.uses):
            for earlier, defined in reversed(seen):
                if name in defined:
                    needs.append(earlier.key)
                    break
        candidate.needs = tuple(sorted(set(needs), key=order.__getitem__))
        order[candidate.key] = len(seen)
        seen.append((candidate, used.defines))


def _usable(snippets: list[Candidate]) -> list[Candidate]:
    """Each snippet once (by its code), and only those whose prerequisites are in the plan."""
    kept: list[Candidate] = []
    first_with: dict[str, str] = {}  # normalised code -> key of the snippet kept for it
    alias: dict[str, str] = {}  # key of a duplicate -> key of the snippet kept instead
    present: set[str] = set()
    for candidate in snippets:
        code = _normalise(candidate.code or "")
        if not code:
            continue
        if code in first_with:
            if candidate.key:
                alias[candidate.key] = first_with[code]
            continue
        needs = tuple(dict.fromkeys(alias.get(k, k) for k in candidate.needs))
        if any(k not in present for k in needs):
            continue  # what it builds on was left out (a training snippet at basic level, say)
        first_with[code] = candidate.key
        present.add(candidate.key)
        kept.append(dataclasses.replace(candidate, needs=needs))
    return kept


def _by_relevance(snippets: list[Candidate], request: Any, pinned: int = 0) -> list[Candidate]:
    """Best match for the request first (BM25 over each snippet's words, for the prompt, the
    topic and the template), the recipe's order breaking ties; a snippet comes right after the
    snippets it builds on, pulled forward with it. The first `pinned` stay where they are."""
    query = [
        *words(getattr(request, "prompt", "") or "") * 2,
        *words(getattr(request, "topic", "") or "") * 2,
        *words(getattr(request, "template", "") or ""),
    ]
    head, rest = snippets[:pinned], snippets[pinned:]
    scores = bm25_scores([c.about for c in rest], query)
    by_key = {c.key: c for c in snippets if c.key}
    out: list[Candidate] = []
    placed: set[int] = set()

    def place(candidate: Candidate) -> None:
        if id(candidate) in placed:
            return
        placed.add(id(candidate))
        for key in candidate.needs:
            if key in by_key:
                place(by_key[key])
        out.append(candidate)

    for candidate in head:
        place(candidate)
    for index in sorted(range(len(rest)), key=lambda i: (-scores[i], i)):
        place(rest[index])
    return out


def _distinct_titles(snippets: list[Candidate]) -> list[Candidate]:
    """No two snippets under one title: those sharing one all take, together, the first kind of
    alternative that tells each apart (see _alternatives), else each its own first free one."""
    counts = Counter(c.title for c in snippets)
    used = {title for title, n in counts.items() if n == 1}
    groups: dict[str, list[int]] = {}
    for index, candidate in enumerate(snippets):
        if counts[candidate.title] > 1:
            groups.setdefault(candidate.title, []).append(index)
    out = list(snippets)
    for title, members in groups.items():
        chosen: list[str] | None = None
        for level in range(max(len(snippets[i].alternatives) for i in members)):
            alts = [_level(snippets[i], level) for i in members]
            if all(alts) and len(set(alts)) == len(alts) and not used.intersection(alts):
                chosen = alts
                break
        if chosen is None:
            chosen = []
            for i in members:
                taken = used | set(chosen)
                free = [a for a in snippets[i].alternatives if a and a not in taken]
                n = 2
                while f"{title} ({n})" in taken:
                    n += 1
                chosen.append(free[0] if free else f"{title} ({n})")
        for i, new in zip(members, chosen, strict=True):
            used.add(new)
            candidate = snippets[i]
            explanation = candidate.explanation
            if candidate.kind == "readme":
                explanation = f"From the “{candidate.title}” section of the repository's `{candidate.path}`."
            out[i] = dataclasses.replace(candidate, title=new, explanation=explanation)
    return out


def _level(candidate: Candidate, level: int) -> str:
    return candidate.alternatives[level] if level < len(candidate.alternatives) else ""


def _repair_context(repo: dict[str, Any]) -> RepairContext:
    files = tuple(
        str(f["path"])
        for f in repo.get("files") or []
        if isinstance(f, dict) and isinstance(f.get("path"), str)
    )
    declared = tuple(
        str(p.get("name"))
        for p in (repo.get("dependencies") or {}).get("packages") or []
        if p.get("name") and _is_runtime(p)
    )
    return RepairContext(
        files=files,
        repo_dir=bool(repo.get("checkout") or repo.get("location")),
        declared=declared,
        own_modules=frozenset(_own_modules(repo)),
    )


def _what(candidate: Candidate | None) -> str:
    """The candidate as the progress notes name it."""
    kinds = {
        "readme": "the README snippet",
        "script": "the example script",
        "notebook": "the example notebook",
        "model_card": "the model card's snippet",
    }
    if candidate is None:
        return "the cell"
    return kinds.get(candidate.kind, "the setup cell" if candidate.scaffold else "the cell")


def _reason(report: dict[str, Any] | None) -> str:
    error = (report or {}).get("error") or {}
    if error:
        return f"{error.get('ename')}: {error.get('evalue')}"
    return str((report or {}).get("status") or "no result")


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


def _report(content: str | None) -> dict[str, Any] | None:
    """An execute_cell result as a dict (tools.parse_execution_result), or None."""
    if not content:
        return None
    try:
        return parse_execution_result(content)
    except ValueError:
        return None


def _field(content: str | None, key: str) -> str | None:
    value = (_parse(content) or {}).get(key)
    return value if isinstance(value, str) else None


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
