"""Real ipykernel kernels for tests and benchmarks, on one event loop the caller drives."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from jupyter_client.manager import AsyncKernelManager

T = TypeVar("T")


class KernelHarness:
    """A kernel plus the event loop its manager is bound to; `run` drives a coroutine to completion.

    zmq.asyncio sockets belong to the loop that created them, so every coroutine touching this
    kernel runs on `self.loop` (one `asyncio.run` per test would need a kernel per test).
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.km = AsyncKernelManager(kernel_name="python3")

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    def start(self) -> None:
        self.run(self.km.start_kernel())

    def restart(self) -> None:
        """A fresh kernel process (after a test killed it)."""
        self.run(self.km.restart_kernel(now=True))

    def stop(self) -> None:
        try:
            self.run(self.km.shutdown_kernel(now=True))
        finally:
            self.loop.close()


@contextmanager
def running_kernel() -> Iterator[KernelHarness]:
    harness = KernelHarness()
    harness.start()
    try:
        yield harness
    finally:
        harness.stop()
