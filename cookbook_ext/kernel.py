"""Run code in a running Jupyter kernel and collect complete nbformat v4 outputs.

`KernelExecutor` talks to the kernel through jupyter_client: the user's own kernel when it runs
inside Jupyter Server (`kernel_manager.get_kernel(kernel_id)`), or a kernel the CLI started.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from queue import Empty
from typing import Any, Literal

import zmq.asyncio
from jupyter_client.session import Session

from .agent.types import DEFAULT_CELL_TIMEOUT

log = logging.getLogger(__name__)

ExecutionStatus = Literal["ok", "error", "timeout", "dead", "cancelled"]

# How long the executor waits on iopub before checking liveness, deadlines and progress. A dead
# kernel sends nothing, so this bounds how long a crash goes unnoticed.
_POLL_SECONDS = 0.25
# After an interrupt, how long to wait for the kernel to report idle before giving up on it;
# shorter on cancel, where the user is waiting for the generation to stop.
_DRAIN_SECONDS = 10.0
_CANCEL_DRAIN_SECONDS = 2.0
# The shell reply normally arrives with iopub idle; this only guards against a lost reply.
_REPLY_SECONDS = 5.0
_READY_SECONDS = 60.0

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Reads the values from a file only the server's user can read, deletes it, and leaves no name
# behind in the user's namespace. The values never travel in code, history or on iopub.
_LOAD_ENV = """\
def _cookbook_load_env(path):
    import json, os
    try:
        with open(path, encoding="utf-8") as handle:
            values = json.load(handle)
    finally:
        try:
            os.remove(path)
        except OSError:
            pass
    # What each name held before, so restore_env can put the user's own value back.
    saved = os.__dict__.setdefault("_cookbook_saved_env", {{}})
    for key in values:
        saved.setdefault(str(key), os.environ.get(str(key)))
    os.environ.update({{str(k): str(v) for k, v in values.items()}})
    return len(values)
try:
    _cookbook_load_env({path!r})
finally:
    del _cookbook_load_env
"""

# Moves into the notebook's folder when it should (see KernelExecutor.work_in), then says where the
# notebook's folder is; leaves no name behind.
_WORK_IN = """\
import os as _cookbook_os
try:
    if "NOTEBOOK_DIR" in globals():
        print({marker!r} + str(NOTEBOOK_DIR))
    else:
        if {force!r} or _cookbook_os.path.commonpath([_cookbook_os.getcwd(), {root!r}]) != {root!r}:
            _cookbook_os.chdir({folder!r})
        print({marker!r} + _cookbook_os.getcwd())
finally:
    del _cookbook_os
"""
_WORK_IN_MARKER = "__cookbook_folder__:"

# Takes out what set_env put in: each name gets back the value it had before (or goes).
_RESTORE_ENV = """\
def _cookbook_restore_env(names):
    import os
    saved = os.__dict__.get("_cookbook_saved_env", {{}})
    for name in names:
        before = saved.pop(name, None)
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
try:
    _cookbook_restore_env({names!r})
finally:
    del _cookbook_restore_env
"""

_NAMESPACE_MARKER = "cookbook-namespace:"
# Lists the user's names and their types (IPython's own, hidden names and _private ones left out),
# with a size for containers and arrays; prints one JSON line and deletes itself.
_READ_NAMESPACE = """\
def _cookbook_namespace(limit):
    import json, types
    shell = get_ipython()
    hidden = getattr(shell, "user_ns_hidden", {{}})
    variables, modules, more = [], [], False
    for name, value in list(shell.user_ns.items()):
        if name.startswith("_") or name in hidden:
            continue
        if isinstance(value, types.ModuleType):
            if len(modules) < limit:
                modules.append([name, getattr(value, "__name__", name)])
            else:
                more = True
            continue
        if len(variables) >= limit:
            more = True
            continue
        kind = type(value)
        label = kind.__name__ if kind.__module__ == "builtins" else kind.__module__ + "." + kind.__qualname__
        detail = ""
        try:
            if isinstance(value, (types.FunctionType, type)):
                label = "class" if isinstance(value, type) else "function"
                detail = "from " + str(getattr(value, "__module__", "") or "?")
            elif isinstance(value, (list, tuple, dict, set, frozenset, str, bytes)):
                detail = "len " + str(len(value))
            else:
                shape = getattr(value, "shape", None)
                if isinstance(shape, tuple):
                    detail = "shape " + str(tuple(shape))[:60]
        except Exception:
            pass
        variables.append([name[:100], label[:100], detail[:100]])
    print({marker!r} + json.dumps({{"variables": variables, "modules": modules, "truncated": more}}))
try:
    _cookbook_namespace({limit})
finally:
    del _cookbook_namespace
"""

_OUTPUT_TYPES = frozenset({"stream", "display_data", "execute_result", "error"})
_GONE_STATES = frozenset({"starting", "restarting", "dead"})


@dataclass
class ExecutionResult:
    """What running one cell produced. `outputs` are complete nbformat v4 output dicts."""

    status: ExecutionStatus
    outputs: list[dict[str, Any]] = field(default_factory=list)
    execution_count: int | None = None
    stdout: str = ""
    stderr: str = ""
    error: dict[str, Any] | None = None  # {"ename", "evalue", "traceback": list[str]}
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class _Outputs:
    """Builds the output list the way a notebook front end would display it."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._clear_pending = False
        self._by_display_id: dict[str, list[int]] = {}

    def add(self, msg: dict[str, Any]) -> None:
        msg_type = msg["header"]["msg_type"]
        content = msg["content"]
        if msg_type == "clear_output":
            if content.get("wait"):
                self._clear_pending = True
            else:
                self._clear()
            return
        if msg_type == "update_display_data":
            self._update_display(content)
            return
        if msg_type not in _OUTPUT_TYPES:
            return
        if self._clear_pending:
            self._clear()
        if msg_type == "stream" and self.items:
            last = self.items[-1]
            if last["output_type"] == "stream" and last["name"] == content["name"]:
                last["text"] += content["text"]
                return
        output = _output_from_msg(msg_type, content)
        display_id = content.get("transient", {}).get("display_id")
        if display_id:
            self._by_display_id.setdefault(display_id, []).append(len(self.items))
        self.items.append(output)

    def _clear(self) -> None:
        self.items.clear()
        self._by_display_id.clear()
        self._clear_pending = False

    def _update_display(self, content: dict[str, Any]) -> None:
        display_id = content.get("transient", {}).get("display_id")
        for index in self._by_display_id.get(display_id or "", []):
            self.items[index]["data"] = content.get("data", {})
            self.items[index]["metadata"] = content.get("metadata", {})


def _output_from_msg(msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
    """The nbformat v4 output for an iopub message, as `nbformat.v4.output_from_msg` builds it
    but without validating each output on the event loop (the notebook is validated whole)."""
    if msg_type == "stream":
        return {
            "output_type": "stream",
            "name": content.get("name", "stdout"),
            "text": content.get("text") or "",
        }
    if msg_type == "error":
        return {
            "output_type": "error",
            "ename": content.get("ename", "Error"),
            "evalue": content.get("evalue", ""),
            "traceback": list(content.get("traceback") or []),
        }
    output: dict[str, Any] = {
        "output_type": msg_type,
        "data": content.get("data") or {},
        "metadata": content.get("metadata") or {},
    }
    if msg_type == "execute_result":
        output["execution_count"] = content.get("execution_count")
    return output


class KernelDied(Exception):
    """The kernel process went away (or was restarted) while we waited on it."""


class _NotReady(Exception):
    """The kernel is alive but we could not start talking to it (busy, or we were cancelled)."""

    def __init__(self, status: ExecutionStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class KernelExecutor:
    """Executes code in one kernel, one cell at a time.

    `km` is a jupyter_client AsyncKernelManager-like object: it needs `client()`,
    `interrupt_kernel()` and `is_alive()`. The executor owns its client (and its channels),
    never the kernel: `close()` stops the channels and leaves the kernel running.
    """

    def __init__(
        self, km: Any, *, cell_timeout: float = DEFAULT_CELL_TIMEOUT, progress_interval: float = 10.0
    ) -> None:
        self.km = km
        self.cell_timeout = cell_timeout
        self.progress_interval = progress_interval
        self._client: Any = None
        self._kernel_identity: object = None
        self._lock = asyncio.Lock()

    async def execute(
        self,
        code: str,
        *,
        timeout: float | None = None,
        on_progress: Callable[[float], Awaitable[None]] | None = None,
        cancel: asyncio.Event | None = None,
    ) -> ExecutionResult:
        """Run `code` and wait for it to finish, time out, be cancelled or kill the kernel.

        Never raises for kernel-side failures: they come back as the result's status.
        """
        return await self._execute(code, timeout, on_progress, cancel, silent=False)

    async def set_env(
        self, env: Mapping[str, str], *, timeout: float = 30.0, cancel: asyncio.Event | None = None
    ) -> ExecutionResult:
        """Put `env` into the kernel's `os.environ` without a visible cell.

        The values go through a JSON file (mode 0600, in a private temporary folder) that a
        *silent* execute reads and deletes: no execute_input on iopub, no history entry, no
        execution count, and the values never appear in any code sent to the kernel. The file is
        removed here in any case. The kernel must share this machine's file system (a local
        kernel); a remote kernel answers with an error status. Raises ValueError for a name that
        is not an environment variable name or a value holding a NUL character.
        """
        for name, value in env.items():
            if not isinstance(name, str) or not _ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid environment variable name.")
            if not isinstance(value, str) or "\x00" in value:
                raise ValueError(f"The value of {name} is not a string without NUL characters.")
        if not env:
            return ExecutionResult(status="ok")
        folder = tempfile.mkdtemp(prefix="cookbook-env-")  # mode 0700
        path = os.path.join(folder, "env.json")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(dict(env), handle)
            return await self._execute(_LOAD_ENV.format(path=path), timeout, None, cancel, silent=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    async def restore_env(
        self, names: Iterable[str], *, timeout: float = 30.0, cancel: asyncio.Event | None = None
    ) -> ExecutionResult:
        """Take the variables `set_env` put into the kernel out again, silently: each name gets
        back the value it had before set_env (or is removed). Only names travel, never values."""
        wanted = sorted(set(names))
        for name in wanted:
            if not _ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid environment variable name.")
        if not wanted:
            return ExecutionResult(status="ok")
        return await self._execute(_RESTORE_ENV.format(names=wanted), timeout, None, cancel, silent=True)

    async def work_in(self, folder: str, *, root: str, force: bool, timeout: float = 15.0) -> str | None:
        """Where the notebook's folder is for this kernel, by one silent execute (no visible cell,
        no history, no name left behind). A kernel outside `root`, or any kernel when `force`,
        first moves into `folder`, as Jupyter starts a notebook's kernel in the notebook's
        folder; one where a Cookbook setup cell ran keeps its NOTEBOOK_DIR (it moved into the
        repository on purpose). None when the kernel did not answer."""
        code = _WORK_IN.format(folder=folder, root=root, force=force, marker=_WORK_IN_MARKER)
        result = await self._execute(code, timeout, None, None, silent=True, interrupt=False)
        for line in result.stdout.splitlines() if result.ok else []:
            if line.startswith(_WORK_IN_MARKER):
                return line[len(_WORK_IN_MARKER) :]
        return None

    async def read_namespace(self, *, timeout: float = 15.0, limit: int = 150) -> dict[str, Any] | None:
        """What the user's namespace holds, read by one silent execute (no history, no execution
        count, no name left behind): `{variables: [[name, type, detail]], modules: [[name,
        module]], truncated}`, at most `limit` of each; names and types only, never values.
        None when the kernel did not answer in time (busy with the user's own cell, which is
        left running) or is not an IPython kernel."""
        code = _READ_NAMESPACE.format(limit=int(limit), marker=_NAMESPACE_MARKER)
        result = await self._execute(code, timeout, None, None, silent=True, interrupt=False)
        if not result.ok:
            return None
        for line in result.stdout.splitlines():
            if line.startswith(_NAMESPACE_MARKER):
                try:
                    data = json.loads(line[len(_NAMESPACE_MARKER) :])
                except ValueError:
                    return None
                return data if isinstance(data, dict) else None
        return None

    async def _execute(
        self,
        code: str,
        timeout: float | None,
        on_progress: Callable[[float], Awaitable[None]] | None,
        cancel: asyncio.Event | None,
        *,
        silent: bool,
        interrupt: bool = True,
    ) -> ExecutionResult:
        async with self._lock:
            started = time.monotonic()
            result = ExecutionResult(status="ok")
            if cancel is not None and cancel.is_set():
                result.status = "cancelled"
                return result
            limit = self.cell_timeout if timeout is None else timeout
            try:
                client = await self._ensure_client(
                    min(_READY_SECONDS, limit) if limit > 0 else _READY_SECONDS, cancel
                )
            except KernelDied as exc:
                result.status = "dead"
                result.error = {"ename": "KernelDied", "evalue": str(exc), "traceback": []}
                return result
            except _NotReady as exc:
                result.status = exc.status
                result.error = {"ename": "KernelNotReady", "evalue": str(exc), "traceback": []}
                result.duration = time.monotonic() - started
                return result
            try:
                await self._run(
                    client, code, result, started, timeout, on_progress, cancel, silent, interrupt=interrupt
                )
            except KernelDied as exc:
                result.status = "dead"
                result.error = {"ename": "KernelDied", "evalue": str(exc), "traceback": []}
                self._drop_client()
            if silent:
                result.execution_count = None  # a silent execute does not count
            result.duration = time.monotonic() - started
            return result

    async def connect(self, *, timeout: float = _READY_SECONDS, cancel: asyncio.Event | None = None) -> bool:
        """Open the channels now and wait until the kernel answers (what the first `execute`
        would do). False when it did not answer; the next `execute` then tries again and reports
        why in its result."""
        async with self._lock:
            try:
                await self._ensure_client(timeout, cancel)
            except (KernelDied, _NotReady):
                return False
            return True

    async def interrupt(self) -> None:
        await self.km.interrupt_kernel()

    async def is_alive(self) -> bool:
        try:
            alive = bool(await self.km.is_alive())
        except Exception:  # a manager whose kernel is gone may raise instead of answering
            return False
        return alive and (self._kernel_identity is None or self._identity() == self._kernel_identity)

    async def close(self) -> None:
        self._drop_client()

    # -- internals -------------------------------------------------------------------------

    def _identity(self) -> object:
        """Something that changes when the kernel process is replaced (an auto-restart)."""
        provisioner = getattr(self.km, "provisioner", None)
        return getattr(provisioner, "pid", None) or getattr(provisioner, "process", None)

    async def _ensure_client(self, ready_timeout: float, cancel: asyncio.Event | None) -> Any:
        if self._client is not None:
            return self._client
        if not await self.is_alive():
            raise KernelDied("The kernel is not running.")
        client = self.km.client(**self._own_session(), **self._shared_context())
        # No stdin: a cell calling input() fails at once instead of waiting for a human.
        client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)  # noqa: S604 - zmq shell channel, not a subprocess shell
        ready = asyncio.ensure_future(client.wait_for_ready(timeout=ready_timeout))
        waiter = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
        try:
            await asyncio.wait(
                [f for f in (ready, waiter) if f is not None], return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if waiter is not None:
                waiter.cancel()
        if not ready.done():
            ready.cancel()
            client.stop_channels()
            raise _NotReady("cancelled", "Cancelled while connecting to the kernel.")
        if ready.exception() is not None:
            client.stop_channels()
            if not await self.is_alive():
                raise KernelDied(f"The kernel died before it answered: {ready.exception()}")
            # A kernel busy with someone else's long cell answers kernel_info only afterwards.
            raise _NotReady(
                "timeout",
                f"The kernel did not answer within {ready_timeout:g} s; it may be busy with another cell.",
            )
        self._client = client
        self._kernel_identity = self._identity()
        return client

    def _own_session(self) -> dict[str, Any]:
        """A session of our own: clients sharing the manager's session share one socket identity,
        and the kernel then routes shell replies to only one of them (the notebook's, or ours)."""
        session = getattr(self.km, "session", None)
        if session is None:
            return {}
        return {
            "session": Session(
                key=session.key, signature_scheme=session.signature_scheme, username=session.username
            )
        }

    def _shared_context(self) -> dict[str, Any]:
        """The manager's zmq context for our sockets. A client left to make its own context
        starts an I/O thread for it and, on close, destroys it with a 100 ms linger: a wait on
        the event loop at the end of every generation."""
        context = getattr(self.km, "context", None)
        return {"context": context} if isinstance(context, zmq.asyncio.Context) else {}

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        self._kernel_identity = None
        if client is not None:
            try:
                client.stop_channels()
            except Exception:  # closing a half-dead channel must not mask the real outcome
                log.debug("stopping kernel channels failed", exc_info=True)

    async def _check_alive(self) -> None:
        if not await self.is_alive():
            raise KernelDied("The kernel died or was restarted while running the cell.")

    async def _run(
        self,
        client: Any,
        code: str,
        result: ExecutionResult,
        started: float,
        timeout: float | None,
        on_progress: Callable[[float], Awaitable[None]] | None,
        cancel: asyncio.Event | None,
        silent: bool = False,
        *,
        interrupt: bool = True,
    ) -> None:
        # silent: no execute_input broadcast, no history, no execution count (IPython semantics).
        msg_id = client.execute(code, silent=silent, store_history=not silent, allow_stdin=False)
        limit = self.cell_timeout if timeout is None else timeout
        deadline = started + limit if limit and limit > 0 else float("inf")
        next_progress = started + self.progress_interval if on_progress else float("inf")
        next_check = started + _POLL_SECONDS
        outputs = _Outputs()
        watcher = self._watch_cancel(cancel) if cancel is not None else None
        interrupted: ExecutionStatus | None = None
        try:
            while True:
                now = time.monotonic()
                if interrupted is None:
                    if cancel is not None and cancel.is_set():
                        interrupted = "cancelled"
                    elif now >= deadline:
                        interrupted = "timeout"
                        if not interrupt:  # someone else's cell is running: stop waiting, no more
                            break
                        await self._interrupt_quietly()
                    if interrupted is not None:
                        drain = _CANCEL_DRAIN_SECONDS if interrupted == "cancelled" else _DRAIN_SECONDS
                        deadline = now + drain
                elif now >= deadline:
                    log.warning("the kernel did not go idle after an interrupt")
                    break
                if now >= next_check:
                    await self._check_alive()
                    next_check = now + _POLL_SECONDS
                if now >= next_progress and on_progress is not None and interrupted is None:
                    await on_progress(now - started)
                    next_progress = now + self.progress_interval
                wait = max(0.0, min(next_check, deadline, next_progress) - now)
                try:
                    msg = await client.get_iopub_msg(timeout=wait)
                except Empty:
                    continue
                msg_type = msg["header"]["msg_type"]
                if msg_type == "status" and msg["content"]["execution_state"] in _GONE_STATES:
                    raise KernelDied(
                        f"The kernel reported '{msg['content']['execution_state']}' while running the cell."
                    )
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg_type == "status":
                    if msg["content"]["execution_state"] == "idle":
                        break
                elif msg_type == "execute_input":
                    result.execution_count = msg["content"].get("execution_count")
                else:
                    outputs.add(msg)
        finally:
            if watcher is not None:
                watcher.cancel()
        self._finish(result, outputs.items, interrupted)
        if interrupted is None:
            await self._read_reply(client, msg_id, result)

    def _watch_cancel(self, cancel: asyncio.Event) -> asyncio.Task[None]:
        """Interrupt the kernel the moment `cancel` is set, not at the next poll."""

        async def watch() -> None:
            await cancel.wait()
            await self._interrupt_quietly()

        return asyncio.ensure_future(watch())

    async def _interrupt_quietly(self) -> None:
        try:
            await self.km.interrupt_kernel()
        except Exception:  # the liveness check reports a dead kernel; an interrupt need not
            log.debug("interrupting the kernel failed", exc_info=True)

    @staticmethod
    def _finish(
        result: ExecutionResult, outputs: list[dict[str, Any]], interrupted: ExecutionStatus | None
    ) -> None:
        result.outputs = outputs
        for out in outputs:
            if out["output_type"] == "stream":
                if out["name"] == "stdout":
                    result.stdout += out["text"]
                else:
                    result.stderr += out["text"]
            elif out["output_type"] == "error" and result.error is None:
                result.error = {
                    "ename": out["ename"],
                    "evalue": out["evalue"],
                    "traceback": list(out["traceback"]),
                }
            elif out["output_type"] == "execute_result" and result.execution_count is None:
                result.execution_count = out.get("execution_count")
        if interrupted is not None:
            result.status = interrupted
        elif result.error is not None:
            result.status = "error"

    async def _read_reply(self, client: Any, msg_id: str, result: ExecutionResult) -> None:
        deadline = time.monotonic() + _REPLY_SECONDS
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.debug("no execute_reply for %s", msg_id)
                return
            try:
                reply = await client.get_shell_msg(timeout=remaining)
            except Empty:
                return
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        content = reply["content"]
        if result.execution_count is None:
            result.execution_count = content.get("execution_count")
        status = content.get("status")
        if status == "aborted" and result.error is None:
            result.status = "error"
            result.error = {
                "ename": "ExecutionAborted",
                "evalue": "The kernel aborted this cell because an earlier request failed.",
                "traceback": [],
            }
        elif status == "error" and result.error is None:
            result.status = "error"
            result.error = {
                "ename": content.get("ename", "Error"),
                "evalue": content.get("evalue", ""),
                "traceback": list(content.get("traceback", [])),
            }
