"""The fresh-kernel check: a generated notebook re-run top to bottom in a new kernel of the same
kernelspec, in a scratch copy of the notebook's folder, as a user who downloads it would run it.

`FreshKernelCheck` runs it (nbclient, on a thread of its own: nbclient installs signal handlers on
the loop it runs on, which must not be the server's); `Verification` is the result the `verified`
event, the provenance and the panel show; `cells_to_drop` says which cells go when a provider
cannot repair a failing notebook itself (the offline one).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from .agent import untrusted

__all__ = [
    "VERIFY_MODES",
    "FreshKernelCheck",
    "Verification",
    "Verify",
    "cell_id_of",
    "cells_to_drop",
    "mem_available_mb",
]

log = logging.getLogger(__name__)

VERIFY_MODES = ("fresh_kernel", "off")
VerificationStatus = Literal["passed", "failed", "skipped"]
T = TypeVar("T")

# What a scratch copy leaves out: history, caches and checkpoints no notebook reads.
_NOT_COPIED = frozenset({".git", ".hg", ".svn", ".ipynb_checkpoints", "__pycache__", ".mypy_cache"})
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_TRACEBACK_CHARS = 2000
# After a cancel, how long the check's thread gets to shut its kernel down.
_CLEANUP_SECONDS = 15.0


@dataclass
class Verification:
    """The result of one fresh-kernel check (the `verified` event's data).

    `failed_cell` is the failing cell's position in the notebook (0-based, markdown counted) and
    `cell_id` the generation's id for it; `error` is {ename, evalue}; `reason` says why a check
    was skipped. `attempt` counts the checks of this generation (2 and on: after a repair),
    `dropped` the cells left out since the previous check.
    """

    status: VerificationStatus
    seconds: float = 0.0
    failed_cell: int | None = None
    cell_id: str | None = None
    error: dict[str, str] | None = None
    reason: str | None = None
    kernel: str | None = None
    attempt: int = 1
    dropped: list[str] = field(default_factory=list)
    traceback: str = ""  # for the model's repair message only; not in the event

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["traceback"]
        return data

    def for_model(self, turns: int) -> str:
        """The failure as the user message that asks a model to repair the notebook."""
        error = self.error or {}
        where = f"cell {self.cell_id}" if self.cell_id else f"cell {self.failed_cell}"
        # The error's text is the code's (often the repository's): data, in its block.
        failure = f"{error.get('ename', 'Error')}: {error.get('evalue', '')}"
        if self.traceback:
            failure += f"\n\nTraceback (end):\n{self.traceback}"
        lines = [
            "Cookbook re-ran the validated notebook top to bottom in a fresh kernel, as a user who "
            f"downloads it would, and it failed at {where} (position {self.failed_cell} in the "
            "notebook). The kernel reported:",
            untrusted.block(failure, "kernel_output", check="fresh_kernel"),
            untrusted.KERNEL_WARNING,
            "",
            "The notebook must run in order from a fresh kernel: every name, import, file and "
            "package a cell uses has to come from an earlier cell of the notebook, not from state "
            "left in your kernel by cells you ran and deleted or edited. Fix it with edit_cell, "
            "create_cell or delete_cell, run every cell you change with execute_cell, then call "
            f"finish. You have {turns} turn(s) for this.",
        ]
        return "\n".join(lines)


def _skipped(reason: str, *, kernel: str | None, started: float) -> Verification:
    return Verification(
        status="skipped", reason=reason, kernel=kernel, seconds=round(time.monotonic() - started, 3)
    )


class Verify(Protocol):
    """What the generation loop calls once the building kernel is idle."""

    async def __call__(
        self, cells: list[dict[str, Any]], *, cancel: asyncio.Event, timeout: float
    ) -> Verification: ...


def mem_available_mb(meminfo: str | Path = "/proc/meminfo") -> int | None:
    """MemAvailable in MB, or None where the system does not say (no /proc/meminfo)."""
    try:
        text = Path(meminfo).read_text()
    except OSError:
        return None
    match = re.search(r"^MemAvailable:\s+(\d+)\s*kB", text, re.M)
    return int(match.group(1)) // 1024 if match else None


@dataclass
class FreshKernelCheck:
    """Re-runs a notebook's cells in a new kernel; see the module docstring.

    `folder` is the notebook's folder, copied into the scratch folder the kernel starts in (None:
    an empty one). `links` are what the notebook reaches outside its folder by relative paths (a
    local repository at "../repos/st", the user's data, a clone beside the notebook): each is
    linked into the scratch folder at the same place, when it exists. `env` is the kernel's whole
    environment: credential-free, plus the secrets the user granted this generation.
    `kernel_spec_manager` finds `kernel_name` (the server's, so its kernelspec configuration
    applies).
    """

    kernel_name: str = "python3"
    folder: Path | None = None
    env: Mapping[str, str] | None = None
    cell_timeout: float = 300.0
    startup_timeout: float = 60.0
    min_free_mb: int = 1024
    max_copy_mb: int = 200
    kernel_spec_manager: Any = None
    skip_reason: str | None = None  # known up front: the check is reported skipped, for this
    links: Mapping[str, Path] = field(default_factory=dict)  # relative to the notebook -> source
    # A GitHub repository's clone (relative to the notebook -> its pinned commit): the scratch run
    # gets a pristine checkout of that commit, as a new machine's setup cell would clone it, not
    # the building kernel's clone with whatever its runs (kept or not) wrote into it.
    clones: Mapping[str, str] = field(default_factory=dict)

    async def __call__(
        self, cells: list[dict[str, Any]], *, cancel: asyncio.Event, timeout: float
    ) -> Verification:
        started = time.monotonic()
        kernel = self.kernel_name
        if self.skip_reason:
            return _skipped(self.skip_reason, kernel=kernel, started=started)
        if not any(c.get("cell_type") == "code" for c in cells):
            return _skipped(
                "nothing to re-run: the notebook has no code cell", kernel=kernel, started=started
            )
        free = await asyncio.to_thread(mem_available_mb)
        if free is not None and free < self.min_free_mb:
            return _skipped(
                f"not enough free memory: {free} MB available, {self.min_free_mb} MB needed",
                kernel=kernel,
                started=started,
            )
        if timeout <= 0:
            return _skipped(
                "the generation's time limit ran out before the check", kernel=kernel, started=started
            )
        try:
            result = await _in_own_thread(lambda: self._check(cells), cancel=cancel, timeout=timeout)
        except TimeoutError:
            return _skipped(
                "the generation's time limit ran out during the check", kernel=kernel, started=started
            )
        if result is None:  # cancelled: the caller sees `cancel` set
            return _skipped("cancelled", kernel=kernel, started=started)
        result.seconds = round(time.monotonic() - started, 3)
        return result

    async def _check(self, cells: list[dict[str, Any]]) -> Verification:
        """In the check's own thread and loop: scratch folder, kernel, cells, cleanup."""
        scratch = Path(tempfile.mkdtemp(prefix="cookbook-verify-"))
        try:
            # Deep enough that the notebook's "../" paths stay inside the scratch folder.
            ups = max((_leading_ups(rel) for rel in self.links), default=0)
            work = scratch.joinpath(*["up"] * ups) / (self.folder.name if self.folder else "notebook")
            clones = {rel: (self._clone_source(rel), commit) for rel, commit in self.clones.items()}
            skip = {source for source, _ in clones.values() if source is not None}
            too_big = _copy_folder(self.folder, work, self.max_copy_mb, skip=skip) if self.folder else None
            if too_big:
                return Verification(status="skipped", reason=too_big, kernel=self.kernel_name)
            work.mkdir(parents=True, exist_ok=True)
            for rel, (source, commit) in clones.items():
                if source is not None:
                    _pristine_clone(source, Path(os.path.normpath(work / rel)), commit, scratch, self.env)
            _link_into(work, scratch, self.links)
            return await self._run(cells, work)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _clone_source(self, relative: str) -> Path | None:
        """The building kernel's clone at `relative` (from the notebook), when it is a git one."""
        folder = self.folder
        source = self.links.get(relative) or (Path(os.path.normpath(folder / relative)) if folder else None)
        return source if source is not None and (source / ".git").exists() else None

    async def _run(self, cells: list[dict[str, Any]], cwd: Path) -> Verification:
        import nbformat
        from jupyter_client.manager import AsyncKernelManager
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        kernel = self.kernel_name
        nb = nbformat.v4.new_notebook(cells=[nbformat.from_dict(_fresh(c)) for c in cells])
        manager_kw: dict[str, Any] = {"kernel_name": kernel}
        if self.kernel_spec_manager is not None:
            manager_kw["kernel_spec_manager"] = self.kernel_spec_manager
        client = NotebookClient(
            nb,
            km=AsyncKernelManager(**manager_kw),
            kernel_name=kernel,
            timeout=int(max(1, self.cell_timeout)),
            startup_timeout=int(max(1, self.startup_timeout)),
            interrupt_on_timeout=False,
            shutdown_kernel="immediate",
            allow_errors=False,
            resources={"metadata": {"path": str(cwd)}},
        )
        env = dict(os.environ if self.env is None else self.env)
        ready = False
        index = -1
        try:
            async with client.async_setup_kernel(env=env, cleanup_kc=True):
                ready = True
                for index, cell in enumerate(nb.cells):
                    await client.async_execute_cell(
                        cell, index, execution_count=client.code_cells_executed + 1
                    )
        except CellExecutionError as exc:
            return self._failed(cells, index, exc.ename, exc.evalue, _tail(str(exc.traceback)))
        except CellTimeoutError:
            return self._failed(
                cells, index, "Timeout", f"the cell ran over {self.cell_timeout:.0f} s in the fresh kernel"
            )
        except DeadKernelError:
            return self._failed(cells, index, "DeadKernelError", "the kernel died while running this cell")
        except Exception as exc:
            if ready:  # the kernel ran, then something in nbclient broke: not the notebook's fault
                log.warning("fresh-kernel check stopped unexpectedly", exc_info=True)
                return Verification(
                    status="skipped",
                    reason=f"the check stopped unexpectedly ({type(exc).__name__})",
                    kernel=kernel,
                )
            why = _strip_ansi(str(exc)).strip().splitlines()
            return Verification(
                status="skipped",
                reason=f"could not start a fresh {kernel!r} kernel: {why[0] if why else type(exc).__name__}",
                kernel=kernel,
            )
        return Verification(status="passed", kernel=kernel)

    def _failed(
        self, cells: list[dict[str, Any]], index: int, ename: str, evalue: str, traceback: str = ""
    ) -> Verification:
        cell_id = cell_id_of(cells[index]) if 0 <= index < len(cells) else None
        return Verification(
            status="failed",
            failed_cell=index,
            cell_id=cell_id,
            error={"ename": str(ename), "evalue": _strip_ansi(str(evalue))[:500]},
            kernel=self.kernel_name,
            traceback=traceback,
        )


# -- which cells go --------------------------------------------------------------------------------


def cells_to_drop(cells: list[dict[str, Any]], failed: int) -> list[int]:
    """The positions to leave out of a notebook whose cell `failed` fails in a fresh kernel: that
    cell, every later code cell that reads a name it (or another dropped cell) defines, and the
    markdown directly above each of them (its heading), but never the notebook's first cell (the
    title). Names come from the code's syntax; a dependency it cannot see (a file, the working
    folder) shows up at the next check."""
    if not 0 <= failed < len(cells) or cells[failed].get("cell_type") != "code":
        return []
    from .agent.providers.snippets import names  # what a cell defines and uses (one home)

    drop = {failed}
    lost = set(names(_source(cells[failed])).defines)
    for index in range(failed + 1, len(cells)):
        if cells[index].get("cell_type") != "code":
            continue
        found = names(_source(cells[index]))
        if found.uses & lost:
            drop.add(index)
            lost |= found.defines
        else:
            lost -= found.defines  # redefined by a cell that stays
    for index in sorted(drop):
        above = index - 1
        while above > 0 and cells[above].get("cell_type") == "markdown":
            drop.add(above)
            above -= 1
    return sorted(drop)


def _source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def cell_id_of(cell: Mapping[str, Any]) -> str | None:
    """The generation's id for a notebook cell (its metadata.cookbook.cell_id), if it has one."""
    cookbook = (cell.get("metadata") or {}).get("cookbook") or {}
    value = cookbook.get("cell_id")
    return str(value) if value else None


def _fresh(cell: Mapping[str, Any]) -> dict[str, Any]:
    """The cell as it would be downloaded, without the outputs of its first run."""
    out = {k: v for k, v in cell.items() if k not in ("outputs", "execution_count")}
    if out.get("cell_type") == "code":
        out.update(outputs=[], execution_count=None)
    return out


# -- the scratch folder ----------------------------------------------------------------------------


def _copy_folder(src: Path, dst: Path, max_mb: int, *, skip: Iterable[Path] = ()) -> str | None:
    """Copy `src` to `dst` (symlinks as links; history, caches and the folders in `skip` left
    out). Returns why not when it holds more than `max_mb` MB, before copying anything."""
    limit = max_mb * 1024 * 1024
    total = 0
    skipped = {os.path.normpath(p) for p in skip}

    def kept(folder: str, names: Iterable[str]) -> list[str]:
        return [
            n
            for n in names
            if n not in _NOT_COPIED and os.path.normpath(os.path.join(folder, n)) not in skipped
        ]

    for _dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = kept(_dirpath, dirnames)
        for name in filenames:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(_dirpath, name)).st_size
        if total > limit:
            return (
                f"the notebook's folder holds more than {max_mb} MB (verify_copy_max_mb), too much to "
                "copy for a scratch run; move the notebook to a smaller folder to have it checked"
            )
    shutil.copytree(
        src, dst, symlinks=True, ignore=lambda d, names: set(names) - set(kept(d, names)), dirs_exist_ok=True
    )
    return None


def _pristine_clone(
    source: Path, dest: Path, commit: str, scratch: Path, env: Mapping[str, str] | None
) -> None:
    """`dest`: a checkout of `commit` from the local clone `source` (its objects only: nothing
    its working tree gained since). Falls back to copying the working tree when git cannot."""
    if scratch not in dest.parents or os.path.lexists(dest):
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    git_env = {**(os.environ if env is None else env), "GIT_TERMINAL_PROMPT": "0", "GIT_LFS_SKIP_SMUDGE": "1"}
    try:
        for args in (
            ["git", "clone", "-q", "--no-checkout", "--local", str(source), str(dest)],
            ["git", "-C", str(dest), "checkout", "-q", "--detach", commit],
        ):
            subprocess.run(args, capture_output=True, check=True, env=git_env, timeout=300)
        return
    except (OSError, subprocess.SubprocessError):
        log.debug("could not clone %s at %s for the fresh-kernel check; copying it", source, commit)
        shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(source, dest, symlinks=True, ignore=_ignore, dirs_exist_ok=True)


def _leading_ups(relative: str) -> int:
    parts = Path(os.path.normpath(relative)).parts
    return next((i for i, part in enumerate(parts) if part != ".."), len(parts))


def _link_into(work: Path, scratch: Path, links: Mapping[str, Path]) -> None:
    """Symlink each existing source at its path relative to `work`, inside `scratch` only, where
    the copy of the notebook's folder has nothing yet."""
    for relative, source in links.items():
        dest = Path(os.path.normpath(work / relative))
        if dest == work or scratch not in dest.parents or os.path.lexists(dest) or not source.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.symlink_to(source, target_is_directory=source.is_dir())


def _ignore(_folder: str, names: Iterable[str]) -> set[str]:
    return {n for n in names if n in _NOT_COPIED}


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _tail(text: str) -> str:
    text = _strip_ansi(text).strip()
    return text if len(text) <= _TRACEBACK_CHARS else "[...]" + text[-_TRACEBACK_CHARS:]


# -- the check's thread ----------------------------------------------------------------------------


async def _in_own_thread(
    make: Callable[[], Coroutine[Any, Any, T]], *, cancel: asyncio.Event, timeout: float
) -> T | None:
    """Run `make()` on a new event loop in a new thread and wait for it, unless `cancel` is set
    (then None) or `timeout` passes (TimeoutError); either way its task is cancelled and given
    time to clean up (shut its kernel down) first. A cancelled caller cancels it the same way."""
    handle: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]]
    handle = concurrent.futures.Future()
    done: concurrent.futures.Future[T | None] = concurrent.futures.Future()

    async def main() -> T:
        task = asyncio.current_task()
        assert task is not None
        handle.set_result((asyncio.get_running_loop(), task))
        return await make()

    def target() -> None:
        try:
            done.set_result(asyncio.run(main()))
        except asyncio.CancelledError:
            done.set_result(None)
        except BaseException as exc:
            done.set_exception(exc)

    threading.Thread(target=target, name="cookbook-verify", daemon=True).start()
    result = asyncio.wrap_future(done)

    async def stop() -> None:
        loop, task = await asyncio.wrap_future(handle)
        with contextlib.suppress(RuntimeError):  # its loop already closed: nothing to stop
            loop.call_soon_threadsafe(task.cancel)
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(result), _CLEANUP_SECONDS)

    waiter = asyncio.ensure_future(cancel.wait())
    try:
        finished, _ = await asyncio.wait(
            (result, waiter), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    except asyncio.CancelledError:
        await asyncio.shield(stop())
        raise
    finally:
        waiter.cancel()
    if result in finished:
        return result.result()
    await stop()
    if cancel.is_set():
        return None
    raise TimeoutError
