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
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ..errors import CookbookError
from ..notebook import build_notebook
from ..provenance import build_provenance
from ..redact import Redactor, redact_obj
from .prompt import build_opening_message, build_system_prompt
from .providers.base import Message, ModelTurn, Provider, ProviderError, SystemPrompt, Usage
from .tools import TOOL_SPECS, ApproveFn, RepoTrust, Workspace
from .types import Budgets, EventSink, GenerationOutcome, GenerationRequest, GenerationStatus

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
) -> GenerationOutcome:
    """Run one generation to its end. See the module docstring for the guarantees.

    `secret_env` (name -> value) is put into the kernel's environment before the first model
    turn, without a cell; the model only learns the names. Every value is masked (with the
    caller's `redact`, a redact.Redactor or any function, and credential-shaped strings) in
    everything the model, the events and the notebook receive. `approval_mode` (never | risky |
    always) decides which code cells need `approve(payload)` to return True before they run; see
    guardrails.needs_approval. Code the provider copied from the repository or the model card
    asks whatever the mode, until `trust` says the repository is trusted.
    """
    started = time.monotonic()
    secret_env = dict(secret_env or {})
    if isinstance(redact, Redactor):
        redactor = redact.with_values(secret_env.values())
    else:
        redactor = Redactor(secret_env.values(), chained=redact)
    sink = _RedactingSink(sink, redactor)
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
    )
    usage = Usage()
    turns = 0
    status: GenerationStatus = "finished"
    message: str | None = None

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
        )
        return GenerationOutcome(
            status=status,
            cells=cells,
            notebook=build_notebook(cells, provenance=provenance),
            usage=usage,
            turns=turns,
            message=redactor(message) if message else message,
        )

    await sink.emit(
        "started",
        {
            "generation_id": generation_id,
            "request": {k: v for k, v in vars(request).items() if v is not None},
            "provider": provider.name,
            "model": provider.model,
        },
    )
    try:
        if secret_env:
            await _set_secrets(executor, secret_env, sink, cancel, workspace.deadline)
        system = build_system_prompt(
            request=request,
            repo=repo,
            model=model,
            budgets=budgets,
            secret_names=sorted({*secret_names, *secret_env}),
        )
        # The user's own text and the repository's pack could quote a value: mask it there too.
        # The pack and the model card open the conversation as untrusted_data blocks; the system
        # prompt holds only Cookbook's instructions (agent/untrusted.py).
        system = SystemPrompt(instructions=redactor(system.instructions), context=redactor(system.context))
        messages: list[Message] = [redactor.obj(build_opening_message(request, repo, model))]
        provider.prepare(request=request, repo=repo, model=model)
        while True:
            if cancel.is_set():
                raise _Stop("cancelled", _CANCELLED)
            _check_budgets(budgets, usage, turns, started)
            await sink.emit(
                "status", {"phase": "model", "message": f"Waiting for the model (turn {turns + 1})"}
            )
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
                break
            results, done = await _run_tools(workspace, turn, cancel)
            messages.append({"role": "user", "content": results})
            if done:
                break
        dropped = workspace.unvalidated_code_cells()
        if dropped:
            await sink.emit(
                "warning",
                {"message": f"Left out cells that did not run successfully: {', '.join(dropped)}."},
            )
        await sink.emit("status", {"phase": "finishing", "message": "Assembling the notebook"})
        message = workspace.summary
        result = outcome()
        await sink.emit(
            "finished",
            {"cells": result.cells, "usage": {**usage.to_dict(), "turns": turns}, "summary": message},
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
        await sink.emit("failed", {"code": stop.code, "message": stop.message})
    return outcome()


class _RedactingSink:
    """Masks secrets in every event before the caller's sink sees it (the store, the UI)."""

    def __init__(self, sink: EventSink, redactor: Redactor) -> None:
        self._sink = sink
        self._redactor = redactor

    async def emit(self, type: str, data: dict[str, Any]) -> None:
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
