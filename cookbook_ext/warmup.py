"""Start-up warm-up: one-off import and compile costs paid in a background thread at start, not
inside the first generation, where they would run on the event loop (importing an SDK takes
seconds on a busy machine)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .agent.providers.registry import ProviderRegistry

THREAD_NAME = "cookbook-warm-up"


def warm_up(
    *,
    providers: ProviderRegistry,
    secret: Callable[[str], str | None],
    kernel_manager: Any = None,
    log: logging.Logger | logging.LoggerAdapter[Any] | None = None,
) -> threading.Thread:
    """Start the warm-up thread and return it.

    Only what a generation can use now is imported: the engine's modules, and the SDKs of the
    providers that have a key or an endpoint (or are the default). Another SDK is imported when it
    is first chosen, in a worker thread; importing every SDK here would hold the GIL for seconds
    that the server's first requests then wait through.
    """
    logger = log or logging.getLogger("cookbook_ext")

    def work() -> None:
        started = time.monotonic()
        for module in ("cookbook_ext.agent.loop", "cookbook_ext.kernel", "cookbook_ext.notebook"):
            try:
                importlib.import_module(module)
            except Exception:
                logger.debug("could not import %s", module)
        try:
            from nbformat import v4, validator

            validator.isvalid(v4.new_notebook(cells=[v4.new_code_cell("1")]))
        except Exception:
            logger.debug("nbformat warm-up failed")
        if kernel_manager is not None:
            # Made once, on the first kernel start: the provisioner factory (it reads every
            # installed package's entry points) and the list of network interfaces.
            try:
                from jupyter_client.localinterfaces import localhost
                from jupyter_client.provisioning.factory import KernelProvisionerFactory

                localhost()
                KernelProvisionerFactory.instance(parent=kernel_manager)
            except Exception:
                logger.debug("kernel start warm-up failed")
        in_use = providers.in_use(secret)
        needs_sdk = False
        for name in in_use:
            try:
                cls = providers.provider_class(name)
                needs_sdk = needs_sdk or cls.key_name is not None
                warm = getattr(cls, "warm_up", None)
                if callable(warm):
                    warm()
            except Exception:  # a misconfigured provider is reported when it is used
                logger.debug("could not import or warm up the %s provider", name)
        if needs_sdk:
            # On their first request the SDKs load OpenTelemetry's propagators, and their HTTP
            # stack (anyio) its asyncio backend: half a second on the loop otherwise.
            try:
                importlib.import_module("opentelemetry.propagate")
            except Exception:
                logger.debug("OpenTelemetry's propagators are not available")
            try:
                asyncio.run(_touch_anyio())
            except Exception:
                logger.debug("anyio is not available")
        logger.debug("Cookbook warmed up in %.1f s", time.monotonic() - started)

    thread = threading.Thread(target=work, name=THREAD_NAME, daemon=True)
    thread.start()
    return thread


async def _touch_anyio() -> None:
    import anyio

    anyio.Event()
