"""Where Cookbook's blocking work runs, off the server's event loop: quick lookups (the store,
secrets) on the loop's default pool, slow I/O (clones, scans, the Hub) on a bounded pool of its
own so quick lookups never queue behind it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")


class Workers:
    def __init__(self, io_threads: int = 4) -> None:
        self._io_pool = ThreadPoolExecutor(max_workers=io_threads, thread_name_prefix="cookbook-io")

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, partial(fn, *args, **kwargs))

    async def run_io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._io_pool, partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self._io_pool.shutdown(wait=False, cancel_futures=True)
