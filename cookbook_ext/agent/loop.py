"""The generation loop: ask the model for tool calls, run them, feed the results back, until done.

`run_generation` never raises for model, kernel or tool failures: it emits exactly one terminal
event (`finished`, `failed` or `cancelled`) and returns the outcome with the cells validated so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ..errors import CookbookError
from ..notebook import build_notebook
from ..provenance import build_provenance
from ..redact import Redactor, redact_obj
from .diagnosis import Diagnosis
from .prompt import build_opening_message, build_system_prompt
from .providers.base import Message, ModelTurn, Provider, ProviderError, SystemPrompt, Usage
from .tools import TOOL_SPECS, ApproveFn, RepoTrust, Workspace
from .types import Budgets, EventSink, GenerationOutcome, GenerationRequest, GenerationStatus

if TYPE_CHECKING:
    from ..verify import Verification, Verify

if TYPE_CHECKING:
    from ..kernel import KernelExecutor

__all__ = [
    "Budgets",
    "EventSink",
    "GenerationOutcome",
    "GenerationRequest",
    "redact_obj",
    "run_generation",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


class _Stop(Exception):
    """Ends the loop with a terminal event."""

    def __init__(self, status: Literal["failed", "cancelled"], message: str, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


_CANCELLED = "The generation was cancelled."
# Fresh-kernel checks after the first, for a provider that cannot repair (cells are dropped).
_DROP_ROUNDS = 3
_NO_SECRETS: Mapping[str, str] = MappingProxyType({})
_SET_ENV_SECONDS = 60.0


async def run_generation(
    *,
    generation_id: str,
    request: GenerationRequest,
    repo: dict[str, Any] | None,
    model: dict[str, Any] | None,
    provider: Provider,
    executor: KernelExecutor,
    sink: EventSink,
    budgets: Budgets,
    cancel: asyncio.Event,
    secret_names: Sequence[str] = (),
    redact: Callable[[str], str] | None = None,
    secret_env: Mapping[str, str] = _NO_SECRETS,
    approval_mode: str = "never",
    approve: ApproveFn | None = None,
    trust: RepoTrust | None = None,
    repo_within: Sequence[Path] | None = None,
    verify: Verify | None = None,
    repair_turns: int = 0,
    alternatives: Sequence[Mapping[str, Any]] = (),
) -> GenerationOutcome:
    """Run one generation to its end. See the module docstring for the guarantees.

    `secret_env` (name -> value) is put into the kernel's environment before the first model
    turn, without a cell; the model only learns the names. Every value is masked (with the
    caller's `redact`, a redact.Redactor or any function, and credential-shaped strings) in
    everything the model, the events and the notebook receive. `approval_mode` (never | risky |
    always) decides which code cells need `approve(payload)` to return True before they run; see
    guardrails.needs_approval. Code the provider copied from the repository or the model card
    asks whatever the mode, until `trust` says the repository is trusted.

    `verify` (verify.FreshKernelCheck) re-runs the validated notebook in a fresh kernel once the
    model is done and the building kernel idle, before the terminal event; each check is a
    `verified` event. When it fails, a provider that `uses_model` gets the failure and
    `repair_turns` more turns, then one re-check; for one that does not (offline), the failing
    cell and what depends on it are dropped and the notebook checked again (bounded).

    A run that fails or keeps nothing says why: its terminal event carries `cause` (one sentence)
    and `next_steps` (agent/diagnosis.py), offering the other available providers of
    `alternatives` ({name, display_name, available, uses_model}, as cookbook/status lists them).
    A follow-up (`request.follow_up`) may replace the unit's notebook cells by their ids.
    """
    started = time.monotonic()
    secret_env = dict(secret_env or {})
    if isinstance(redact, Redactor):
        redactor = redact.with_values(secret_env.values())
    else:
        redactor = Redactor(secret_env.values(), chained=redact)
    diagnosis = Diagnosis()
    sink = _RedactingSink(sink, redactor, diagnosis)
    uses_model = bool(getattr(provider, "uses_model", True))
    follow_up = request.follow_up
    checkout = (repo or {}).get("checkout")
    workspace = Workspace(
        generation_id=generation_id,
        executor=executor,
        sink=sink,
        budgets=budgets,
        cancel=cancel,
        redact=redactor,
        repo_root=Path(checkout) if checkout else None,
        repo_within=tuple(repo_within) if repo_within is not None else None,
        deadline=started + budgets.max_seconds,
        secrets=secret_env,
        approval_mode=approval_mode,
        approve=approve,
        trust=trust or RepoTrust(),
        provider_name=provider.name,
        model_name=provider.model,
        notebook_cells=follow_up.replaceable() if follow_up is not None else {},
        setup_source=_setup_source(repo),
    )
    usage = Usage()
    turns = 0
    status: GenerationStatus = "finished"
    message: str | None = None
    verification: dict[str, Any] | None = None
    cause: str | None = None
    next_steps: list[dict[str, Any]] = []

    def explain(code: str, text: str) -> dict[str, Any]:
        """The terminal event's `cause` and `next_steps`, kept for the outcome too."""
        nonlocal cause, next_steps
        cause, next_steps = diagnosis.explain(
            code=code,
            message=text,
            uses_model=uses_model,
            provider=provider.name,
            alternatives=alternatives,
            repo_id=workspace.trust.repo_id,
            trusted=workspace.trust.trusted,
        )
        return {"cause": redactor(cause), "next_steps": redactor.obj(next_steps)}

    def outcome() -> GenerationOutcome:
        cells = workspace.validated_cells()
        provenance = build_provenance(
            generation_id=generation_id,
            request=dataclasses.replace(request, prompt=redactor(request.prompt)),
            repo=repo,
            model=model,
            provider=provider.name,
            model_name=provider.model,
            usage={**usage.to_dict(), "turns": turns},
            status=status,
            verification=verification,
            parent_id=follow_up.parent_id if follow_up is not None else None,
        )
        return GenerationOutcome(
            status=status,
            cells=cells,
            notebook=build_notebook(cells, provenance=provenance),
            usage=usage,
            turns=turns,
            message=redactor(message) if message else message,
            verification=verification,
            cause=redactor(cause) if cause else cause,
            next_steps=next_steps,
        )

    async def converse(limits: Budgets) -> None:
        """Model turns, each with its tool calls, until the model is done (it calls finish or
        answers without a tool call) or `limits` are reached."""
        nonlocal usage, turns
        while True:
            if cancel.is_set():
                raise _Stop("cancelled", _CANCELLED)
            _check_budgets(limits, usage, turns, started)
            if uses_model:
                await sink.emit(
                    "status", {"phase": "model", "message": f"Waiting for the model (turn {turns + 1})"}
                )
            else:  # it plays the repository's own examples: there is no model to wait for
                await sink.emit("status", {"phase": "examples", "message": "Trying the next example"})
            turn: ModelTurn = await _unless_cancelled(
                provider.next_turn(system=system, messages=messages, tools=TOOL_SPECS, cancel=cancel),
                cancel,
                timeout=workspace.deadline - time.monotonic(),
            )
            turns += 1
            usage = usage + turn.usage
            await sink.emit("usage", {**usage.to_dict(), "turns": turns})
            if turn.text:
                await sink.emit("llm_text", {"text": turn.text})
            # The model's own words go back as they were (providers replay them verbatim): it can
            # only know a value that reached it, and everything that reaches it is masked.
            messages.append(_assistant_message(turn))
            if not turn.tool_calls:
                if turn.stop_reason == "max_tokens":
                    messages.append(_user_text("Your answer was cut off. Continue, using the tools."))
                    continue
                workspace.summary = workspace.summary or turn.text or None
                return
            results, done = await _run_tools(workspace, turn, cancel)
            messages.append({"role": "user", "content": results})
            if done:
                return

    await sink.emit(
        "started",
        {
            "generation_id": generation_id,
            "request": {k: v for k, v in vars(request).items() if v is not None and k != "follow_up"},
            "provider": provider.name,
            "model": provider.model,
            "uses_model": uses_model,
            "parent_id": follow_up.parent_id if follow_up is not None else None,
        },
    )
    try:
        if secret_env:
            await _set_secrets(executor, secret_env, sink, cancel, workspace.deadline)

        def opening() -> tuple[SystemPrompt, list[Message]]:
            prompt = build_system_prompt(
                request=request,
                repo=repo,
                model=model,
                budgets=budgets,
                secret_names=sorted({*secret_names, *secret_env}),
            )
            # The user's own text and the repository's pack could quote a value: mask it there
            # too. The pack and the model card open the conversation as untrusted_data blocks;
            # the system prompt holds only Cookbook's instructions (agent/untrusted.py).
            masked = SystemPrompt(
                instructions=redactor(prompt.instructions), context=redactor(prompt.context)
            )
            return masked, [redactor.obj(build_opening_message(request, repo, model))]

        # Off the event loop: the recipe lookup reads files, and masking scans the whole pack.
        system, messages = await asyncio.to_thread(opening)
        # Off the event loop: the offline provider plans here (recipe files, ranking every snippet).
        await asyncio.to_thread(provider.prepare, request=request, repo=repo, model=model)
        await converse(budgets)
        if verify is not None and workspace.validated_cells():
            repair = _Repair(
                converse=converse,
                messages=messages,
                limits=lambda: dataclasses.replace(budgets, max_turns=turns + repair_turns),
                turns=repair_turns,
                redact=redactor,
            )
            verification = (await _verify_and_repair(verify, workspace, provider, repair)).to_dict()
        dropped = workspace.unvalidated_code_cells()
        if dropped:
            titles = ", ".join(f"“{workspace.cells[c].title}” ({c})" for c in dropped)
            await sink.emit(
                "warning",
                {"message": f"Left out cells that did not run successfully: {titles}.", "cell_ids": dropped},
            )
        await sink.emit("status", {"phase": "finishing", "message": "Assembling the notebook"})
        message = workspace.summary
        finished: dict[str, Any] = {}
        if not workspace.validated_cells():  # an empty run says why, like a failed one
            finished = explain("nothing_validated", message or "The generation kept no cells.")
        result = outcome()
        seconds = round(time.monotonic() - started, 3)
        await sink.emit(
            "finished",
            {
                "cells": result.cells,
                "usage": {**usage.to_dict(), "turns": turns, "seconds": seconds},
                "summary": message,
                **finished,
                **({"verification": verification} if verification is not None else {}),
            },
        )
        return result
    except _Stop as exc:
        stop = exc  # `except ... as` names are unbound when the block ends
    except ProviderError as exc:
        stop = _Stop("failed", exc.message, exc.code or "provider_error")
    except CookbookError as exc:
        stop = _Stop("failed", exc.message, exc.code)
    except asyncio.CancelledError:
        # The task itself was cancelled (server shutdown): still leave one terminal event.
        status, message = "cancelled", _CANCELLED
        with contextlib.suppress(Exception):
            await asyncio.shield(sink.emit("cancelled", {"message": message}))
        raise
    except Exception:  # a bug must end in a `failed` event, not a stuck generation
        log.exception("generation %s crashed", generation_id)
        stop = _Stop(
            "failed", "The generation stopped on an internal error; see the server log.", "internal_error"
        )
    status, message = stop.status, stop.message
    if stop.status == "cancelled":
        await sink.emit("cancelled", {"message": stop.message})
    else:
        why = explain(stop.code, stop.message)
        await sink.emit("failed", {"code": stop.code, "message": stop.message, **why})
    return outcome()


@dataclass
class _Repair:
    """What a repair needs of the conversation: its turn function and messages, the limits for
    the extra turns (computed when the repair starts), how many, and the generation's redactor."""

    converse: Callable[[Budgets], Awaitable[None]]
    messages: list[Message]
    limits: Callable[[], Budgets]
    turns: int
    redact: Redactor


async def _verify_and_repair(
    verify: Verify, workspace: Workspace, provider: Provider, repair: _Repair
) -> Verification:
    """Check the notebook in a fresh kernel; on failure repair it and check again (see
    run_generation). The last check's result is the generation's."""
    result = await _check(verify, workspace, attempt=1)
    if result.status != "failed":
        return result
    sink = workspace.sink
    if getattr(provider, "uses_model", True):  # a model reads the failure and fixes the cells
        if repair.turns <= 0:
            return result
        await sink.emit(
            "status",
            {
                "phase": "repair",
                "message": f"Asking the model to fix cell {result.cell_id}, which failed there",
            },
        )
        _add_user_text(repair.messages, repair.redact(result.for_model(repair.turns)))
        try:
            await repair.converse(repair.limits())
        except _Stop as stop:
            if stop.status == "cancelled":
                raise
            await sink.emit("warning", {"message": f"The repair stopped: {stop.message}"})
        except (ProviderError, CookbookError) as exc:
            await sink.emit("warning", {"message": f"The repair stopped: {exc.message}"})
        return await _check(verify, workspace, attempt=2)
    from ..verify import cell_id_of, cells_to_drop

    for attempt in range(2, 2 + _DROP_ROUNDS):
        cells = workspace.validated_cells()
        drop = cells_to_drop(cells, result.failed_cell if result.failed_cell is not None else -1)
        ids = [cell_id for i in drop if (cell_id := cell_id_of(cells[i])) in workspace.cells]
        kept_code = [c for i, c in enumerate(cells) if i not in drop and c["cell_type"] == "code"]
        if not ids or not kept_code:  # nothing would be left to run: keep it, reported as failed
            break
        for cell_id in ids:
            await workspace.delete_cell(cell_id)
        error = result.error or {}
        await sink.emit(
            "warning",
            {
                "message": f"Left out cells that do not re-run in a fresh kernel: {', '.join(ids)} "
                f"({result.cell_id} failed there: {error.get('ename')}: {error.get('evalue')})."
            },
        )
        result = await _check(verify, workspace, attempt=attempt, dropped=ids)
        if result.status != "failed":
            break
    return result


async def _check(
    verify: Verify, workspace: Workspace, *, attempt: int, dropped: Sequence[str] = ()
) -> Verification:
    await workspace.sink.emit(
        "status", {"phase": "verify", "message": "Re-running the notebook top to bottom in a fresh kernel"}
    )
    try:
        result = await verify(
            workspace.validated_cells(),
            cancel=workspace.cancel,
            timeout=workspace.deadline - time.monotonic(),
        )
    except Exception:  # a broken check must not cost the user a notebook that was built
        log.exception("the fresh-kernel check of %s crashed", workspace.generation_id)
        from ..verify import Verification

        result = Verification(status="skipped", reason="the check stopped on an internal error")
    if workspace.cancel.is_set():
        raise _Stop("cancelled", _CANCELLED)
    result.attempt = attempt
    result.dropped = list(dropped)
    await workspace.sink.emit("verified", result.to_dict())
    return result


def _add_user_text(messages: list[Message], text: str) -> None:
    """A user message with `text`, or `text` joined to the last one when it is the user's (the
    tool results of a finish call): providers want turns to alternate."""
    if messages and messages[-1].get("role") == "user":
        messages[-1] = {**messages[-1], "content": [*messages[-1]["content"], {"type": "text", "text": text}]}
    else:
        messages.append(_user_text(text))


class _RedactingSink:
    """Masks secrets in every event before the caller's sink sees it (the store, the UI), and
    shows each to the generation's diagnosis."""

    def __init__(self, sink: EventSink, redactor: Redactor, diagnosis: Diagnosis | None = None) -> None:
        self._sink = sink
        self._redactor = redactor
        self._diagnosis = diagnosis

    async def emit(self, type: str, data: dict[str, Any]) -> None:
        if self._diagnosis is not None:
            self._diagnosis.observe(type, data)
        await self._sink.emit(type, self._redactor.obj(data))


async def _set_secrets(
    executor: KernelExecutor,
    secret_env: dict[str, str],
    sink: EventSink,
    cancel: asyncio.Event,
    deadline: float,
) -> None:
    """Put the secrets into the kernel's environment; a failure is a warning, not the end."""
    names = ", ".join(sorted(secret_env))
    await sink.emit(
        "status", {"phase": "kernel", "message": f"Setting secrets in the kernel's environment: {names}"}
    )
    timeout = max(1.0, min(_SET_ENV_SECONDS, deadline - time.monotonic()))
    try:
        result = await executor.set_env(secret_env, timeout=timeout, cancel=cancel)
    except (ValueError, OSError) as exc:
        await sink.emit("warning", {"message": f"The secrets were not set in the kernel: {exc}"})
        return
    if result.status == "cancelled" or cancel.is_set():
        raise _Stop("cancelled", _CANCELLED)
    if result.status == "dead":
        raise _Stop(
            "failed",
            "The kernel is not running (it died or was restarted). Restart it and generate again.",
            "kernel_died",
        )
    if not result.ok:
        error = result.error or {}
        why = f"{error.get('ename', result.status)}: {error.get('evalue', '')}".strip(": ")
        await sink.emit(
            "warning",
            {
                "message": f"The secrets ({names}) could not be set in the kernel ({why}); "
                "cells that read them will fail."
            },
        )


def _check_budgets(budgets: Budgets, usage: Usage, turns: int, started: float) -> None:
    elapsed = time.monotonic() - started
    exceeded = None
    if turns >= budgets.max_turns:
        exceeded = f"the turn limit ({budgets.max_turns} model turns)"
    elif usage.total_tokens >= budgets.max_tokens:
        exceeded = f"the token limit ({usage.total_tokens:,} of {budgets.max_tokens:,} tokens used)"
    elif usage.cost_usd >= budgets.max_cost_usd:
        exceeded = f"the cost limit (${usage.cost_usd:.2f} of ${budgets.max_cost_usd:.2f})"
    elif elapsed >= budgets.max_seconds:
        exceeded = f"the time limit ({budgets.max_seconds:.0f} s)"
    if exceeded:
        raise _Stop(
            "failed",
            f"Stopped at {exceeded}. The cells validated so far are kept.",
            "budget_exhausted",
        )


async def _unless_cancelled(coro: Coroutine[Any, Any, T], cancel: asyncio.Event, timeout: float) -> T:
    """Await `coro`, but cancel it and stop the moment `cancel` is set or `timeout` runs out."""
    task = asyncio.ensure_future(coro)
    waiter = asyncio.ensure_future(cancel.wait())
    try:
        done, _ = await asyncio.wait(
            (task, waiter), timeout=max(0.0, timeout), return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if task in done:
        if task.cancelled():  # the provider cancelled itself; not the user's doing
            raise ProviderError("The model call was interrupted; try again.", retryable=True)
        return task.result()
    if cancel.is_set():
        raise _Stop("cancelled", _CANCELLED)
    raise _Stop(
        "failed",
        "Stopped at the time limit while waiting for the model. The cells validated so far are kept.",
        "budget_exhausted",
    )


async def _run_tools(
    workspace: Workspace, turn: ModelTurn, cancel: asyncio.Event
) -> tuple[list[dict[str, Any]], bool]:
    """Run the turn's tool calls in order; every call gets a result block, even skipped ones."""
    results: list[dict[str, Any]] = []
    done = False
    for call in turn.tool_calls:
        if done:
            results.append(_tool_result(call.id, "Skipped: finish was already called.", True))
            continue
        if cancel.is_set():
            raise _Stop("cancelled", _CANCELLED)
        outcome = await workspace.call(call)
        results.append(_tool_result(call.id, outcome.content, outcome.is_error))
        if outcome.kernel_died:
            raise _Stop("failed", outcome.kernel_died, "kernel_died")
        if outcome.cancelled or cancel.is_set():
            raise _Stop("cancelled", _CANCELLED)
        done = outcome.finished
    return results, done


def _assistant_message(turn: ModelTurn) -> Message:
    content: list[dict[str, Any]] = []
    if turn.text:
        content.append({"type": "text", "text": turn.text})
    for call in turn.tool_calls:
        content.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments or {}})
    return {"role": "assistant", "content": content}


def _tool_result(tool_use_id: str, content: str, is_error: bool) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_use_id, "content": content, "is_error": is_error}


def _user_text(text: str) -> Message:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def _setup_source(repo: dict[str, Any] | None) -> str | None:
    """The setup cell Cookbook writes for `repo` (prompt.py shows it to the model, the offline
    provider puts it first), when the repository has a location."""
    from ..portable import RepoLocation, setup_code

    given = (repo or {}).get("location")
    if not given:
        return None
    try:
        return setup_code(RepoLocation.from_dict(given))
    except (KeyError, TypeError, ValueError):
        return None
