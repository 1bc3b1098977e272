"""Real ipykernel kernels for tests and benchmarks, on one event loop the caller drives."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from jupyter_client.manager import AsyncKernelManager

T = TypeVar("T")

# No test reaches a package index: pip gets no index at all, and a closed local port in case
# something (a config file, a `--index-url` default) still asks for one. The root conftest.py sets
# these in os.environ for everything the tests start; kernels started here get them explicitly.
NO_PACKAGE_INDEX = {"PIP_NO_INDEX": "1", "PIP_INDEX_URL": "http://127.0.0.1:9/"}


def kernel_env() -> dict[str, str]:
    """The environment for a test's kernel: this process's, without any package index."""
    env = {k: v for k, v in os.environ.items() if k != "PIP_EXTRA_INDEX_URL"}
    return {**env, **NO_PACKAGE_INDEX}


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
        self.run(self.km.start_kernel(env=kernel_env()))

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
