"""The eval harness (`jupyter cookbook eval SUITE.yaml`): runs a suite of generation cases headless
and measures what the product promises: notebooks that re-run cleanly, and how fast they come.

A suite is YAML: optional `name`, `description` and `defaults` (any case field), and `cases`, each
`{source, prompt, ref?, hf_model_id?, template?, topic?, complexity?, timeout?, trust?, provider?,
model?, name?}`. Nothing waits for a person: an approval a case needs is answered as its `trust`
says (trusted: approve and trust the repository; else decline) and recorded. A case that cannot
run (bad fields, an unknown template, a missing repository, past its timeout) is one line of the
report; the others still run.
"""

from __future__ import annotations

import asyncio
import logging
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import __version__
from .api_models import Complexity, GenerationCreate
from .errors import CookbookError

if TYPE_CHECKING:
    from .event_log import EventLog
    from .runner import GenerationRunner

log = logging.getLogger("cookbook_ext")

DEFAULT_TIMEOUT = 600.0  # seconds a case may take, start to the end of its events
CANCEL_GRACE = 30.0  # seconds a timed-out case is given to stop once cancelled
MAX_SUITE_BYTES = 1_000_000
# Statuses of a case that ran: its generation started and reached an end of its own.
RAN = ("finished", "failed")
CaseStatus = Literal["finished", "failed", "timed_out", "error", "invalid"]
Verified = Literal["passed", "failed", "skipped", "not checked"]
_INSTALL = re.compile(r"(?m)^\s*(?:[!%]\s*)?(?:python3?\s+-m\s+)?(?:pip3?|uv\s+pip|conda|mamba)\s+install\b")


class SuiteError(CookbookError):
    """The suite file as a whole cannot be used (unreadable, not YAML, not a suite)."""

    status = 422
    code = "invalid_suite"


# -- the suite file ---------------------------------------------------------------------------------


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    ref: str | None = None
    hf_model_id: str | None = None
    template: str = "quickstart"
    topic: str | None = None
    complexity: Complexity = "basic"
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0, le=86_400)
    trust: bool | None = None  # None: as the command line says (--trust)
    provider: str | None = None
    model: str | None = None


class CaseDefaults(_Fields):
    """A suite's `defaults`: any case field but the case's own name, source and prompt."""


class Case(_Fields):
    name: str = Field(default="", max_length=100)
    source: str = Field(min_length=1)
    prompt: str = Field(min_length=1)

    def request(self, *, provider: str | None, model: str | None, trust: bool) -> GenerationCreate:
        """The generation request this case makes (the command line's provider and model win)."""
        return GenerationCreate(
            source=self.source,
            ref=self.ref,
            hf_model_id=self.hf_model_id,
            prompt=self.prompt,
            template=self.template,
            topic=self.topic,
            complexity=self.complexity,
            provider=provider or self.provider,
            model=model or self.model,
            trust=trust,
        )


class InvalidCase(BaseModel):
    """A case the suite file got wrong: reported, never run."""

    name: str
    source: str | None = None
    reason: str


class Suite(BaseModel):
    name: str
    description: str | None = None
    path: str
    cases: list[Case | InvalidCase]
    lines: list[int | None] = Field(default_factory=list)  # each case's line in the file


def load_suite(path: str | Path) -> Suite:
    """Read and check a suite file. A problem with the file as a whole raises SuiteError (a YAML
    error names its line and column); a problem with one case makes that case an InvalidCase
    naming the case and the field, and the other cases stand."""
    path = Path(path)
    label = path.name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SuiteError(f"There is no suite file {path}.", code="not_found") from None
    except OSError as err:
        raise SuiteError(f"{path} cannot be read: {err.strerror or err}.") from None
    if len(raw) > MAX_SUITE_BYTES:
        raise SuiteError(f"{label} is larger than {MAX_SUITE_BYTES:,} bytes; is it a suite file?")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SuiteError(f"{label} is not UTF-8 text.") from None
    data, case_lines = _parse_yaml(text, label)
    if not isinstance(data, dict):
        raise SuiteError(f"{label}: a suite is a mapping with a `cases` list (and optional defaults).")
    unknown = sorted(str(k) for k in data if k not in ("name", "description", "defaults", "cases"))
    if unknown:
        raise SuiteError(
            f"{label}: unknown top-level field(s) {', '.join(unknown)}; "
            "a suite has name, description, defaults and cases."
        )
    cases = data.get("cases")
    if not isinstance(cases, list) or not cases:
        raise SuiteError(f"{label}: `cases` must be a non-empty list of cases.")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise SuiteError(f"{label}: `defaults` must be a mapping of case fields.")
    try:
        CaseDefaults.model_validate(defaults)
    except ValidationError as err:
        raise SuiteError(f"{label}: defaults: {_describe(err)}") from None
    for key in ("name", "description"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise SuiteError(f"{label}: `{key}` must be text.")
    checked: list[Case | InvalidCase] = []
    taken: set[str] = set()
    for i, item in enumerate(cases, start=1):
        line = case_lines[i - 1] if i - 1 < len(case_lines) else None
        where = f"case {i}" + (f" (line {line})" if line else "")
        checked.append(_check_case(item, defaults, where, i, taken))
    return Suite(
        name=str(data.get("name") or path.stem),
        description=data.get("description"),
        path=str(path),
        cases=checked,
        lines=case_lines[: len(checked)],
    )


def _check_case(
    item: Any, defaults: dict[str, Any], where: str, index: int, taken: set[str]
) -> Case | InvalidCase:
    if not isinstance(item, dict):
        return InvalidCase(name=f"case-{index}", reason=f"{where}: a case is a mapping of fields.")
    guess = _default_name(item, index)
    named = f"{where} '{guess}'"
    try:
        case = Case.model_validate({**defaults, **item})
    except ValidationError as err:
        return InvalidCase(name=guess, source=_text(item.get("source")), reason=f"{named}: {_describe(err)}")
    try:  # the same checks a request to the server gets (lengths, id and model name shapes)
        case.request(provider=None, model=None, trust=False)
    except ValidationError as err:
        return InvalidCase(name=guess, source=case.source, reason=f"{named}: {_describe(err)}")
    name = case.name or guess
    if name in taken:
        if case.name:
            return InvalidCase(
                name=name, source=case.source, reason=f"{named}: name: another case is called {name!r}."
            )
        name = f"{name}-{index}"
    taken.add(name)
    return case.model_copy(update={"name": name})


def _default_name(item: dict[str, Any], index: int) -> str:
    name = item.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    source = _text(item.get("source")) or ""
    tail = source.rstrip("/").rsplit("/", 1)[-1] if source else ""
    return tail[:60] or f"case-{index}"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "case"
        parts.append(f"field {field!r}: {e['msg']}")
    return "; ".join(parts)


def _parse_yaml(text: str, label: str) -> tuple[Any, list[int | None]]:
    """The document, and the line each item of its `cases` list starts on."""
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = "; ".join(p for p in (err.context, err.problem) if p) or str(err)
        raise SuiteError(f"{label}{where}: not valid YAML: {what}") from None
    except yaml.YAMLError as err:
        raise SuiteError(f"{label}: not valid YAML: {err}") from None
    finally:
        loader.dispose()
    lines: list[int | None] = []
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if getattr(key, "value", None) == "cases" and isinstance(value, yaml.SequenceNode):
                lines = [item.start_mark.line + 1 for item in value.value]
    return data, lines


# -- results ----------------------------------------------------------------------------------------


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tokens(_Result):
    input: int = 0
    output: int = 0
    cached: int = 0  # read from the provider's prompt cache
    cache_write: int = 0


class ApprovalRecord(_Result):
    cell_id: str | None = None
    origin: str | None = None
    reasons: list[str] = Field(default_factory=list)
    approved: bool
    trusted: bool = False  # approving also trusted the repository


class CaseResult(_Result):
    index: int
    name: str
    line: int | None = None
    source: str | None = None
    ref: str | None = None
    hf_model_id: str | None = None
    template: str | None = None
    complexity: str | None = None
    prompt: str | None = None
    provider: str | None = None
    model: str | None = None
    trusted: bool = False
    timeout: float | None = None
    status: CaseStatus
    reason: str | None = None  # why it failed, timed out or did not run
    code: str | None = None  # the error's code (unknown_template, not_found, nothing_validated...)
    generation_id: str | None = None
    validated_cells: int = 0
    validated_code_cells: int = 0
    verified: Verified = "not checked"  # the fresh-kernel re-run (`verified` event), if any
    verification: dict[str, Any] | None = None
    time_to_notebook_s: float | None = None  # start to the terminal event
    time_to_first_cell_s: float | None = None  # start to the first code cell the notebook kept
    verify_seconds: float | None = None  # what the fresh-kernel checks took (part of the above)
    install_seconds: float = 0.0  # cells that install packages
    turns: int = 0
    tokens: Tokens = Field(default_factory=Tokens)
    cost_usd: float = 0.0
    approvals: list[ApprovalRecord] = Field(default_factory=list)
    started_at: float | None = None
    ended_at: float | None = None
    notebook: str | None = None  # where its .ipynb was written (--notebooks)


class Summary(_Result):
    cases: int
    ran: int
    finished: int
    failed: int
    timed_out: int
    errors: int
    invalid: int
    with_cells: int  # finished with at least one validated code cell
    rerun_checked: int  # cases whose notebook went through the fresh-kernel check
    rerun_clean: int
    rerun_clean_pct: float  # of all cases
    median_time_to_notebook_s: float | None
    median_time_to_first_cell_s: float | None
    install_seconds: float
    tokens: Tokens
    cost_usd: float


class RunInfo(_Result):
    provider: str | None
    model: str | None
    jobs: int
    trust: bool
    started_at: float
    seconds: float
    cookbook_version: str = __version__


class SuiteInfo(_Result):
    name: str
    description: str | None = None
    path: str


class Report(_Result):
    suite: SuiteInfo
    run: RunInfo
    cases: list[CaseResult]
    summary: Summary
    all_ran: bool  # every case ran (the command's exit status is 0 exactly then)


def summarise(cases: list[CaseResult]) -> Summary:
    def count(status: str) -> int:
        return sum(c.status == status for c in cases)

    # Times to a notebook: of the cases that made one (finished with validated code cells).
    made = [c for c in cases if c.status == "finished" and c.validated_code_cells > 0]
    times = [c.time_to_notebook_s for c in made if c.time_to_notebook_s is not None]
    firsts = [c.time_to_first_cell_s for c in made if c.time_to_first_cell_s is not None]
    clean = sum(c.verified == "passed" for c in cases)
    return Summary(
        cases=len(cases),
        ran=sum(c.status in RAN for c in cases),
        finished=count("finished"),
        failed=count("failed"),
        timed_out=count("timed_out"),
        errors=count("error"),
        invalid=count("invalid"),
        with_cells=len(made),
        rerun_checked=sum(c.verified in ("passed", "failed") for c in cases),
        rerun_clean=clean,
        rerun_clean_pct=round(100.0 * clean / len(cases), 1) if cases else 0.0,
        median_time_to_notebook_s=round(statistics.median(times), 3) if times else None,
        median_time_to_first_cell_s=round(statistics.median(firsts), 3) if firsts else None,
        install_seconds=round(sum(c.install_seconds for c in cases), 3),
        tokens=Tokens(
            input=sum(c.tokens.input for c in cases),
            output=sum(c.tokens.output for c in cases),
            cached=sum(c.tokens.cached for c in cases),
            cache_write=sum(c.tokens.cache_write for c in cases),
        ),
        cost_usd=round(sum(c.cost_usd for c in cases), 6),
    )


def measure(
    result: CaseResult, events: list[dict[str, Any]], started_at: float, usage: dict[str, Any] | None
) -> CaseResult:
    """Fill in what a case's events and its generation's usage say: times, cells, installs, the
    fresh-kernel check, tokens and cost. `started_at` is when the case asked to start (time.time)."""
    sources: dict[str, str] = {}
    installs = 0.0
    terminal = verified = None
    checking = 0.0  # seconds of every fresh-kernel check (one per attempt: repairs re-check)
    kept: dict[str, float] = {}  # code cells validated and still in the notebook -> when
    last_usage: dict[str, Any] = {}
    for ev in events:
        kind, data = ev["type"], ev.get("data") or {}
        if kind == "cell_created":
            sources[str(data.get("cell_id"))] = str(data.get("source") or "")
        elif kind == "tool_call" and data.get("name") == "edit_cell":
            args = data.get("arguments") or {}
            if isinstance(args.get("code"), str):
                sources[str(args.get("cell_id"))] = args["code"]
        elif kind == "cell_executed":
            if _INSTALL.search(sources.get(str(data.get("cell_id")), "")):
                installs += float(data.get("duration_ms") or 0) / 1000.0
        elif kind == "cell_validated":
            if (data.get("cell") or {}).get("cell_type") == "code":
                kept[str(data.get("cell_id"))] = ev["ts"]
        elif kind == "cell_invalidated":  # deleted or edited: it is not what the notebook kept
            kept.pop(str(data.get("cell_id")), None)
        elif kind == "usage":
            last_usage = data
        elif kind in ("finished", "failed", "cancelled") and terminal is None:
            terminal = ev
        elif kind == "verified":
            verified = ev  # the last check is the notebook's
            if isinstance(data.get("seconds"), int | float):
                checking += float(data["seconds"])
    usage = usage or last_usage
    update: dict[str, Any] = {
        "install_seconds": round(installs, 3),
        "turns": int(usage.get("turns") or 0),
        "tokens": Tokens(
            input=int(usage.get("input_tokens") or 0),
            output=int(usage.get("output_tokens") or 0),
            cached=int(usage.get("cache_read_tokens") or 0),
            cache_write=int(usage.get("cache_write_tokens") or 0),
        ),
        "cost_usd": round(float(usage.get("cost_usd") or 0.0), 6),
    }
    if terminal is not None:
        update["time_to_notebook_s"] = round(terminal["ts"] - started_at, 3)
        if terminal["type"] == "failed" and not result.code:
            update["code"] = (terminal.get("data") or {}).get("code")
    if kept:
        update["time_to_first_cell_s"] = round(min(kept.values()) - started_at, 3)
    if verified is not None:
        data = verified.get("data") or {}
        status = data.get("status")
        update["verified"] = status if status in ("passed", "failed", "skipped") else "not checked"
        update["verification"] = data
        update["verify_seconds"] = round(checking, 3)
    return result.model_copy(update=update)


# -- running ----------------------------------------------------------------------------------------

Progress = Callable[[int, int, CaseResult], None]


async def run_suite(
    suite: Suite,
    runner: GenerationRunner,
    events: EventLog,
    *,
    provider: str | None = None,
    model: str | None = None,
    jobs: int = 1,
    trust: bool = False,
    notebooks: Path | None = None,
    progress: Progress | None = None,
) -> Report:
    """Run every case of `suite` (at most `jobs` at once, each generation in a kernel of its own)
    and report. Never raises for a case: what went wrong is in its result."""
    started_at, started = time.time(), time.monotonic()
    limit = runner.max_running_generations
    jobs = max(1, min(jobs, limit) if limit > 0 else jobs)  # past the runner's limit starts are refused
    slots = asyncio.Semaphore(jobs)
    total, done = len(suite.cases), 0
    default_provider = provider or (await runner.status())["default_provider"]

    async def one(index: int, case: Case | InvalidCase) -> CaseResult:
        nonlocal done
        line = suite.lines[index - 1] if index - 1 < len(suite.lines) else None
        if isinstance(case, InvalidCase):
            result = CaseResult(
                index=index,
                name=case.name,
                line=line,
                source=case.source,
                status="invalid",
                reason=case.reason,
            )
        else:
            async with slots:
                result = await _run_case(
                    index,
                    line,
                    case,
                    runner,
                    events,
                    provider=provider,
                    model=model,
                    trusted=case.trust if case.trust is not None else trust,
                    default_provider=default_provider,
                    notebooks=notebooks,
                )
        done += 1
        if progress is not None:
            progress(done, total, result)
        return result

    results = await asyncio.gather(*(one(i, c) for i, c in enumerate(suite.cases, start=1)))
    cases = list(results)
    return Report(
        suite=SuiteInfo(name=suite.name, description=suite.description, path=suite.path),
        run=RunInfo(
            provider=default_provider,
            model=model,
            jobs=jobs,
            trust=trust,
            started_at=started_at,
            seconds=round(time.monotonic() - started, 3),
        ),
        cases=cases,
        summary=summarise(cases),
        all_ran=all(c.status in RAN for c in cases),
    )


async def _run_case(
    index: int,
    line: int | None,
    case: Case,
    runner: GenerationRunner,
    events: EventLog,
    *,
    provider: str | None,
    model: str | None,
    trusted: bool,
    default_provider: str,
    notebooks: Path | None,
) -> CaseResult:
    result = CaseResult(
        index=index,
        name=case.name,
        line=line,
        source=case.source,
        ref=case.ref,
        hf_model_id=case.hf_model_id,
        template=case.template,
        complexity=case.complexity,
        prompt=case.prompt,
        provider=provider or case.provider or default_provider,
        model=model or case.model,
        trusted=trusted,
        timeout=case.timeout,
        status="error",
    )
    started_at = time.time()
    result.started_at = started_at
    try:
        body = case.request(provider=provider, model=model, trust=trusted)
        record = await runner.start(body)
    except ValidationError as err:
        return _ended(result, status="invalid", reason=_describe(err))
    except CookbookError as err:
        return _ended(result, status="error", reason=err.message, code=err.code)
    except Exception as err:  # a bug must cost one case, not the suite
        log.exception("Cookbook eval: case %s did not start", case.name)
        return _ended(result, status="error", reason=f"internal error: {type(err).__name__}: {err}")
    gen_id = result.generation_id = record["id"]
    try:
        seen, approvals, timed_out, stuck = await _follow(gen_id, runner, events, case.timeout, trusted)
        final = await runner.get(gen_id)
    except Exception as err:
        log.exception("Cookbook eval: case %s", case.name)
        return _ended(result, status="error", reason=f"internal error: {type(err).__name__}: {err}")
    result.approvals = approvals
    cells = final.get("cells") or []
    result.validated_cells = len(cells)
    result.validated_code_cells = sum(c.get("cell_type") == "code" for c in cells)
    result = measure(result, seen, started_at, final.get("usage"))
    if timed_out:
        why = f"No notebook within the case's timeout of {case.timeout:g} s, so it was cancelled"
        why += "; it had not stopped 30 s later." if stuck else "."
        result = _ended(result, status="timed_out", reason=why, code="timeout")
    elif final["status"] == "finished":
        result = _ended(result, status="finished")
    else:
        result = _ended(result, status="failed", reason=final.get("message") or final["status"])
    if notebooks is not None and not stuck:
        try:
            name, data = await runner.notebook(gen_id)
            notebooks.mkdir(parents=True, exist_ok=True)
            out = notebooks / f"{index:02d}-{_safe(case.name)}.ipynb"
            await asyncio.to_thread(out.write_bytes, data)
            result.notebook = str(out)
        except (OSError, CookbookError) as err:
            log.warning("Cookbook eval: the notebook of case %s was not written: %s", case.name, err)
    return result


async def _follow(
    gen_id: str, runner: GenerationRunner, events: EventLog, timeout: float, trusted: bool
) -> tuple[list[dict[str, Any]], list[ApprovalRecord], bool, bool]:
    """Read the generation's events to the end, answering approvals as `trusted` says and
    cancelling it past `timeout`. Returns (events, approvals, timed out, still running)."""
    seen: list[dict[str, Any]] = []
    approvals: list[ApprovalRecord] = []
    deadline = time.monotonic() + timeout
    timed_out = False
    after = 0
    while True:
        now = time.monotonic()
        if now >= deadline:
            if timed_out:  # cancelled, and still not stopped after the grace period
                return seen, approvals, True, True
            timed_out = True
            await runner.cancel(gen_id)
            deadline = now + CANCEL_GRACE
        page = await events.wait(gen_id, after, max(0.05, min(30.0, deadline - time.monotonic())))
        for ev in page["events"]:
            after = ev["seq"]
            seen.append(ev)
            if ev["type"] == "approval_required" and not timed_out:
                approvals.append(await _answer(gen_id, ev["data"], runner, trusted))
        if page["done"]:
            return seen, approvals, timed_out, False


async def _answer(
    gen_id: str, data: dict[str, Any], runner: GenerationRunner, trusted: bool
) -> ApprovalRecord:
    trust_repo = trusted and bool(data.get("untrusted")) and bool(data.get("repo"))
    record = ApprovalRecord(
        cell_id=data.get("cell_id"),
        origin=data.get("origin"),
        reasons=[str(r) for r in data.get("reasons") or []],
        approved=trusted,
        trusted=trust_repo,
    )
    try:
        await runner.answer_approval(gen_id, str(data.get("approval_id")), trusted, trust=trust_repo)
    except CookbookError as err:  # already answered, or the generation moved on (cancelled)
        log.debug("Cookbook eval: approval of %s not answered: %s", data.get("cell_id"), err.message)
    return record


def _ended(result: CaseResult, **update: Any) -> CaseResult:
    return result.model_copy(update={"ended_at": time.time(), **update})


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:60] or "case"


# -- the report ---------------------------------------------------------------------------------------


def progress_line(done: int, total: int, case: CaseResult) -> str:
    """One line per case as it ends: `[2/6] name: status, N cell(s), re-run ..., T s: reason`."""
    parts = [f"[{done}/{total}] {case.name}: {case.status.replace('_', ' ')}"]
    if case.status in RAN or case.status == "timed_out":
        parts.append(f"{case.validated_code_cells} code cell(s)")
        parts.append(f"re-run {case.verified}")
        if case.time_to_notebook_s is not None:
            parts.append(f"{case.time_to_notebook_s:.1f} s")
    line = ", ".join(parts)
    return f"{line}: {_one_line(case.reason)}" if case.reason else line


def markdown(report: Report) -> str:
    """The report as a Markdown table of cases and a summary."""
    s = report.summary
    head = f"## Cookbook eval: {report.suite.name}"
    sub = f"{s.cases} case(s), provider {report.run.provider or 'default'}" + (
        f" ({report.run.model})" if report.run.model else ""
    )
    rows = [
        head,
        "",
        sub + f", {report.run.jobs} at a time, {report.run.seconds:.1f} s in all.",
        "",
        "| # | case | status | code cells | re-run | time to notebook | first cell | turns "
        "| tokens in / out / cached | cost | reason |",
        "|---:|---|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for c in report.cases:
        rows.append(
            "| "
            + " | ".join(
                [
                    str(c.index),
                    _cell(c.name),
                    c.status.replace("_", " "),
                    str(c.validated_code_cells),
                    c.verified,
                    _seconds(c.time_to_notebook_s),
                    _seconds(c.time_to_first_cell_s),
                    str(c.turns),
                    f"{c.tokens.input:,} / {c.tokens.output:,} / {c.tokens.cached:,}",
                    f"${c.cost_usd:.4f}",
                    _cell(_one_line(c.reason, 200) if c.reason else ""),
                ]
            )
            + " |"
        )
    rows += [
        "",
        f"- Re-run cleanly in a fresh kernel: **{s.rerun_clean} of {s.cases} ({s.rerun_clean_pct:g}%)**"
        + (f"; {s.cases - s.rerun_checked} not checked" if s.rerun_checked < s.cases else ""),
        f"- Finished with validated code cells: {s.with_cells} of {s.cases}; "
        f"failed {s.failed}, timed out {s.timed_out}, did not start {s.errors}, invalid {s.invalid}",
        f"- Median time to notebook (of the {s.with_cells} made): {_seconds(s.median_time_to_notebook_s)}; "
        f"median time to the first validated cell: {_seconds(s.median_time_to_first_cell_s)}",
        f"- Seconds in install cells: {s.install_seconds:.1f}",
        f"- Tokens: {s.tokens.input:,} in, {s.tokens.output:,} out, {s.tokens.cached:,} cached; "
        f"cost ${s.cost_usd:.4f}",
    ]
    return "\n".join(rows) + "\n"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _one_line(text: str | None, limit: int = 240) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
