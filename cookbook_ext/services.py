"""Cookbook's services behind the REST API and the CLI: ingestion, the Hub, generations, secrets.

No tornado here. Blocking work (git, file scans, the Hub, the database) runs in threads; the
generation engine runs as asyncio tasks on the server's loop and records every event in the store
before any client can read it, so a reader can always resume from the last sequence it saw.
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import importlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from . import __version__
from .api_models import GenerationCreate
from .errors import BadRequest, Conflict, CookbookError, Forbidden, NotFound
from .secrets import Secrets, load_or_create_key
from .store import AsyncStore, Store, new_id

EVENTS_PAGE = 500
PROVIDER_KEYS = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY", "offline": None}


@dataclass
class ServicesConfig:
    root_dir: Path
    data_dir: Path
    db_url: str = ""
    github_url: str = "https://github.com"
    github_api_url: str = "https://api.github.com"
    allowed_hosts: tuple[str, ...] = ("github.com",)
    max_repo_mb: float = 500.0
    max_files: int = 20000
    clone_timeout: float = 120.0
    context_budget: int = 24000
    hf_endpoint: str | None = None
    hf_cache_ttl: float = 3600.0
    default_provider: str | None = None
    allowed_providers: tuple[str, ...] = ("anthropic", "openai", "offline")
    provider_classes: dict[str, str] = field(
        default_factory=lambda: {
            "anthropic": "cookbook_ext.agent.providers.anthropic.AnthropicProvider",
            "openai": "cookbook_ext.agent.providers.openai.OpenAIProvider",
            "offline": "cookbook_ext.agent.providers.offline.OfflineProvider",
        }
    )
    anthropic_model: str = "claude-sonnet-5-5"
    anthropic_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_base_url: str | None = None
    cell_timeout: float = 300.0
    max_turns: int = 40
    max_tokens: int = 2_000_000
    max_seconds: float = 1800.0
    max_cost_usd: float = 5.0
    output_chars: int = 4000
    max_prompt_chars: int = 20000
    approval_mode: str = "risky"
    admin_secrets: dict[str, str] = field(default_factory=dict)
    secrets_key: bytes | None = None


def import_object(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


# How many of a running generation's latest stored events EventLog keeps in memory for readers.
EVENTS_IN_MEMORY = 2 * EVENTS_PAGE


def server_owner() -> str:
    """Whose server this is: the hub user, else the OS user running it."""
    return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()


class EventLog:
    """Numbers, stores and announces one generation's events (the engine's EventSink).

    `emit` returns once the event is stored (events arriving together share one transaction,
    see Services._store_event); only then is it readable. The latest stored events are also kept
    here, so a reader following a running generation is answered without a database query.
    """

    def __init__(self, services: Services, generation_id: str, start_seq: int = 0):
        self._services = services
        self.generation_id = generation_id
        self.seq = start_seq
        self._stored: list[dict[str, Any]] = []  # the latest stored events, consecutive seqs
        self._stored_after = start_seq  # the seq just before _stored[0]
        self._memory_ok = True

    async def emit(self, type: str, data: dict[str, Any], *, masked: bool = False) -> None:
        """Store and announce one event. `masked`: the caller already applied this generation's
        redactor to every string in `data` (the engine's events do), so it is not walked twice."""
        self.seq += 1
        if not masked:
            data = self._services.redact_obj(self.generation_id, data)
        event = {"seq": self.seq, "type": type, "data": data, "ts": time.time()}
        await self._services._store_event(self, event)

    def _on_stored(self, event: dict[str, Any]) -> None:
        if not self._memory_ok or event["seq"] != self._stored_after + len(self._stored) + 1:
            self._memory_ok = False  # a lost write left a gap: readers go to the store
            return
        self._stored.append(event)
        if len(self._stored) > EVENTS_IN_MEMORY:
            drop = len(self._stored) - EVENTS_PAGE
            self._stored_after += drop
            del self._stored[:drop]

    def _on_lost(self) -> None:
        self._memory_ok = False

    def events_after(self, after: int, limit: int) -> list[dict[str, Any]] | None:
        """Stored events after `after` from memory, or None when memory does not reach back."""
        if not self._memory_ok or after < self._stored_after:
            return None
        start = after - self._stored_after
        return self._stored[start : start + limit]


class _MaskedSink:
    """The EventLog as run_generation's sink: the engine masks every event with this
    generation's redactor (and the kernel's secrets) before emitting it."""

    def __init__(self, log: EventLog) -> None:
        self._log = log

    async def emit(self, type: str, data: dict[str, Any]) -> None:
        await self._log.emit(type, data, masked=True)


@dataclass
class Running:
    task: asyncio.Task[None]
    cancel: asyncio.Event
    kernel_id: str | None
    log: EventLog


class Services:
    def __init__(
        self,
        config: ServicesConfig,
        store: Store | None = None,
        *,
        kernel_manager: Any = None,
        log: logging.Logger | logging.LoggerAdapter[Any] | None = None,
    ):
        self.config = config
        self.log = log or logging.getLogger("cookbook_ext")
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.owner = server_owner()
        sync_store = store or Store(
            config.db_url or f"sqlite:///{config.data_dir / 'cookbook.db'}", owner=self.owner
        )
        self.store = AsyncStore(sync_store)
        key = config.secrets_key or os.environ.get("COOKBOOK_SECRETS_KEY", "").encode() or None
        self.secrets = Secrets(
            sync_store,
            key or load_or_create_key(config.data_dir / "secrets.key"),
            defaults=config.admin_secrets,
        )
        self.kernel_manager = kernel_manager
        self._running: dict[str, Running] = {}
        self._kernel_owner: dict[str, str] = {}
        self._signals: dict[str, asyncio.Event] = {}
        self._redactors: dict[str, Callable[[str], str]] = {}
        self._approvals: dict[str, tuple[str, asyncio.Future[bool]]] = {}
        self._keys_cache: dict[str, dict[str, bool]] = {}
        self._model_clients: dict[tuple[Any, ...], Any] = {}
        # Events waiting for the store, written together by one task (see _store_event).
        self._event_queue: list[tuple[EventLog, dict[str, Any], asyncio.Future[None]]] = []
        self._event_writer: asyncio.Task[None] | None = None
        # Kernels starting at once: each is a process importing IPython, which on a small machine
        # takes the CPU from the server; more than a few at a time only slow everyone down.
        self._kernel_starts: asyncio.Semaphore | None = None
        # Slow blocking work (clones, scans, the Hub) gets its own bounded pool so quick lookups
        # on the default pool never queue behind it.
        self._io_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="cookbook-io")

    # -- helpers --------------------------------------------------------------------------------

    async def to_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, partial(fn, *args, **kwargs))

    async def to_io_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._io_pool, partial(fn, *args, **kwargs))

    def warm_up(self) -> None:
        """Pay one-off import and compile costs in a background thread at start, not inside the
        first generation, where they would run on the event loop (importing an SDK takes seconds
        on a busy machine).

        Only what a generation can use now is imported: the engine's modules, and the SDKs of the
        providers that have a key or an endpoint (or are the default). Another SDK is imported
        when it is first chosen, in a worker thread (make_provider); importing every SDK here
        would hold the GIL for seconds that the server's first requests then wait through.
        """

        def work() -> None:
            started = time.monotonic()
            for module in ("cookbook_ext.agent.loop", "cookbook_ext.kernel", "cookbook_ext.notebook"):
                try:
                    importlib.import_module(module)
                except Exception:
                    self.log.debug("could not import %s", module)
            try:
                from nbformat import v4, validator

                validator.isvalid(v4.new_notebook(cells=[v4.new_code_cell("1")]))
            except Exception:
                self.log.debug("nbformat warm-up failed")
            if self.kernel_manager is not None:
                # Made once, on the first kernel start: the provisioner factory (it reads every
                # installed package's entry points) and the list of network interfaces.
                try:
                    from jupyter_client.localinterfaces import localhost
                    from jupyter_client.provisioning.factory import KernelProvisionerFactory

                    localhost()
                    KernelProvisionerFactory.instance(parent=self.kernel_manager)
                except Exception:
                    self.log.debug("kernel start warm-up failed")
            in_use = self._providers_in_use()
            for name in in_use:
                try:
                    cls = import_object(self.config.provider_classes[name])
                    warm = getattr(cls, "warm_up", None)
                    if callable(warm):
                        warm()
                except Exception:  # a misconfigured provider is reported when it is used
                    self.log.debug("could not import or warm up the %s provider", name)
            if set(in_use) - {"offline"}:
                # On their first request the SDKs load OpenTelemetry's propagators, and their
                # HTTP stack (anyio) its asyncio backend: half a second on the loop otherwise.
                try:
                    importlib.import_module("opentelemetry.propagate")
                except Exception:
                    self.log.debug("OpenTelemetry's propagators are not available")
                try:
                    asyncio.run(_touch_anyio())
                except Exception:
                    self.log.debug("anyio is not available")
            self.log.debug("Cookbook warmed up in %.1f s", time.monotonic() - started)

        threading.Thread(target=work, name="cookbook-warm-up", daemon=True).start()

    def _providers_in_use(self) -> list[str]:
        """The allowed providers a generation could use now (blocking: reads the secrets)."""
        try:
            keys = {
                name: env is None or bool(self.secret(self.owner, env)) for name, env in PROVIDER_KEYS.items()
            }
        except Exception:  # an unreadable store: warm everything up, as before
            keys = dict.fromkeys(PROVIDER_KEYS, True)
        return [
            name
            for name in self.config.allowed_providers
            if name in self.config.provider_classes
            and (
                keys.get(name, True)
                or name == self.config.default_provider
                or (name == "openai" and bool(self.config.openai_base_url))
            )
        ]

    def mark_interrupted(self) -> list[str]:
        return self.store.sync.mark_interrupted(
            "The server stopped while this generation ran; its validated cells are kept."
        )

    async def shutdown(self) -> None:
        for gen_id, run in list(self._running.items()):
            run.cancel.set()
            run.task.cancel()
            await asyncio.gather(run.task, return_exceptions=True)
            await self.store.update_generation(
                gen_id,
                status="interrupted",
                message="The server stopped during this generation.",
                finished_at=time.time(),
            )
        if self._event_writer is not None:  # the last events (a `cancelled`) reach the store
            await asyncio.gather(self._event_writer, return_exceptions=True)
        for client in self._model_clients.values():
            try:
                await client.close()
            except Exception:
                self.log.debug("closing a model client failed")
        self._model_clients.clear()
        self._io_pool.shutdown(wait=False, cancel_futures=True)
        self.store.close()

    def secret(self, owner: str, name: str) -> str | None:
        return self.secrets.resolve(owner, name)

    # -- status ---------------------------------------------------------------------------------

    async def configured_keys(self, owner: str) -> dict[str, bool]:
        """Which providers have a key. Cached: the environment is fixed for the server's life
        and the cache is dropped whenever a secret changes, so status never waits on a thread."""
        cached = self._keys_cache.get(owner)
        if cached is None:

            def lookup() -> dict[str, bool]:
                return {
                    name: True if env is None else bool(self.secret(owner, env))
                    for name, env in PROVIDER_KEYS.items()
                }

            cached = self._keys_cache[owner] = await self.to_thread(lookup)
        return cached

    async def status(self, owner: str) -> dict[str, Any]:
        providers = []
        keys = await self.configured_keys(owner)
        for name in self.config.allowed_providers:
            configured = keys.get(name, False)
            providers.append(
                {
                    "name": name,
                    "available": configured or name == "openai" and bool(self.config.openai_base_url),
                    "configured": configured,
                    "default_model": {
                        "anthropic": self.config.anthropic_model,
                        "openai": self.config.openai_model,
                    }.get(name),
                }
            )
        return {
            "version": __version__,
            "providers": providers,
            "default_provider": self.default_provider(keys),
            "api_key_configured": keys.get("anthropic", False) or keys.get("openai", False),
        }

    def default_provider(self, keys: dict[str, bool]) -> str:
        if self.config.default_provider:
            return self.config.default_provider
        for name in ("anthropic", "openai"):
            if keys.get(name) and name in self.config.allowed_providers:
                return name
        return "offline"

    # -- ingestion ------------------------------------------------------------------------------

    def ingest_options(self, owner: str, budget: int | None = None) -> Any:
        from .ingest import IngestOptions

        return IngestOptions(
            root_dir=self.config.root_dir,
            cache_dir=self.config.data_dir / "cache",
            github_url=self.config.github_url,
            github_api_url=self.config.github_api_url,
            allowed_hosts=self.config.allowed_hosts,
            github_token=self.secret(owner, "GITHUB_TOKEN"),
            max_repo_mb=self.config.max_repo_mb,
            max_files=self.config.max_files,
            clone_timeout=self.config.clone_timeout,
            budget_tokens=budget or self.config.context_budget,
        )

    def _ingest_sync(self, owner: str, source: str, ref: str | None) -> dict[str, Any]:
        from .ingest import ingest, parse_source

        options = self.ingest_options(owner)
        parse_source(source, ref, options)  # fast, clear 4xx before any I/O
        result = ingest(source, ref=ref, options=options).to_dict()
        return self.store.sync.save_repo(result)

    async def ingest(self, owner: str, source: str, ref: str | None = None) -> dict[str, Any]:
        return await self.to_io_thread(self._ingest_sync, owner, source, ref)

    async def list_repos(self) -> list[dict[str, Any]]:
        return [repo_summary(r) for r in await self.store.list_repos()]

    async def get_repo(self, repo_id: str) -> dict[str, Any]:
        return await self.store.get_repo(repo_id)

    async def repo_file(self, repo_id: str, path: str) -> dict[str, Any]:
        from .ingest.files import read_repo_file

        repo = await self.store.get_repo(repo_id)
        return await self.to_thread(read_repo_file, Path(repo["checkout"]), path)

    # -- Hugging Face ---------------------------------------------------------------------------

    def hub(self, owner: str) -> Any:
        from .hub import HubClient

        return HubClient(
            endpoint=self.config.hf_endpoint,
            token=self.secret(owner, "HF_TOKEN"),
            cache=_StoreCache(self.store.sync),
            ttl=self.config.hf_cache_ttl,
        )

    async def model_info(self, owner: str, model_id: str) -> dict[str, Any]:
        from .hub import validate_model_id

        validate_model_id(model_id)
        return await self.to_io_thread(lambda: self.hub(owner).model_info(model_id))

    async def search_models(
        self, owner: str, query: str, task: str | None, limit: int
    ) -> list[dict[str, Any]]:
        return await self.to_io_thread(lambda: self.hub(owner).search(query, task=task, limit=limit))

    # -- generations ----------------------------------------------------------------------------

    def make_provider(self, owner: str, name: str, model: str | None) -> Any:
        if name not in self.config.allowed_providers:
            choices = ", ".join(self.config.allowed_providers)
            raise BadRequest(f"Unknown or disallowed provider {name!r}; choose one of {choices}.")
        cls = import_object(self.config.provider_classes[name])
        if name == "offline":
            return cls()
        key_name = PROVIDER_KEYS[name]
        assert key_name is not None
        key = self.secret(owner, key_name)
        base_url = self.config.anthropic_base_url if name == "anthropic" else self.config.openai_base_url
        client = self._shared_client(cls, key or "not-needed", base_url)
        if name == "anthropic":
            if not key:
                raise BadRequest(
                    "No Anthropic API key is configured: add ANTHROPIC_API_KEY in Cookbook's secrets, "
                    "or choose the offline provider."
                )
            return cls(
                api_key=key,
                model=model or self.config.anthropic_model,
                base_url=self.config.anthropic_base_url,
            )
        if not key and not self.config.openai_base_url:
            raise BadRequest(
                "No OpenAI API key is configured: add OPENAI_API_KEY in Cookbook's secrets, "
                "or configure a local OpenAI-compatible endpoint."
            )
        return cls(
            api_key=key or "not-needed",
            model=model or self.config.openai_model,
            base_url=base_url,
            client=client,
        )

    def _shared_client(self, cls: Any, key: str, base_url: str | None) -> Any:
        """One SDK client (connection pool, TLS context) per provider, key and endpoint."""
        make = getattr(cls, "make_client", None)
        if make is None:
            return None
        cache_key = (cls, hashlib.sha256(key.encode()).hexdigest(), base_url)
        client = self._model_clients.get(cache_key)
        if client is None:
            client = self._model_clients[cache_key] = make(key, base_url)
        return client

    def budgets(self) -> Any:
        from .agent.loop import Budgets

        c = self.config
        return Budgets(
            max_turns=c.max_turns,
            max_tokens=c.max_tokens,
            max_seconds=c.max_seconds,
            max_cost_usd=c.max_cost_usd,
            cell_timeout=c.cell_timeout,
            output_chars=c.output_chars,
        )

    def redact_obj(self, generation_id: str, obj: Any) -> Any:
        redact = self._redactors.get(generation_id)
        if redact is None:
            return obj
        from .agent.loop import redact_obj

        return redact_obj(obj, redact)

    def _make_redactor(self, owner: str) -> Callable[[str], str]:
        from .redact import mask_credentials, mask_values

        values = [v for v in self.secrets.values(owner) if len(v) >= 6]
        for name in PROVIDER_KEYS.values():
            if name and os.environ.get(name) and len(os.environ[name]) >= 6:
                values.append(os.environ[name])

        def redact(text: str) -> str:
            return mask_credentials(mask_values(text, values))[0]

        return redact

    async def start_generation(self, owner: str, body: GenerationCreate) -> dict[str, Any]:
        if len(body.prompt) > self.config.max_prompt_chars:
            from .errors import TooLarge

            raise TooLarge(
                f"The prompt is longer than {self.config.max_prompt_chars} characters; shorten it."
            )
        from .recipes import get_recipe

        get_recipe(body.template)  # NotFound/BadRequest for an unknown template
        if body.hf_model_id:
            from .hub import validate_model_id

            validate_model_id(body.hf_model_id)
        repo = await self.store.get_repo(body.repo_id) if body.repo_id else None
        if body.source:
            from .ingest import parse_source

            await self.to_thread(parse_source, body.source, body.ref, self.ingest_options(owner))
        status = await self.status(owner)
        provider_name = body.provider or status["default_provider"]
        provider = await self.to_thread(self.make_provider, owner, provider_name, body.model)
        if body.kernel_id is not None:
            if self.kernel_manager is None or body.kernel_id not in self.kernel_manager:
                raise NotFound(
                    f"No running kernel with id {body.kernel_id}; open the notebook and start its kernel."
                )
            owner_gen = self._kernel_owner.get(body.kernel_id)
            if owner_gen is not None:
                raise Conflict(
                    "A generation is already running in this notebook's kernel; wait for it or cancel it.",
                    details={"generation_id": owner_gen},
                )
        if body.data_path:
            self.confined_path(body.data_path, what="data_path")
        request = body.model_dump(exclude_none=True)
        gen_id = new_id()
        self._redactors[gen_id] = await self.to_thread(self._make_redactor, owner)
        record = await self.store.create_generation(
            generation_id=gen_id,
            request=request,
            provider=provider_name,
            model=getattr(provider, "model", None),
            repo_id=repo["id"] if repo else None,
            kernel_id=body.kernel_id,
        )
        cancel = asyncio.Event()
        log = EventLog(self, gen_id)
        if body.kernel_id:
            self._kernel_owner[body.kernel_id] = gen_id
        task = asyncio.create_task(self._run(owner, gen_id, body, repo, provider, cancel, log))
        self._running[gen_id] = Running(task=task, cancel=cancel, kernel_id=body.kernel_id, log=log)
        return record

    async def _run(
        self,
        owner: str,
        gen_id: str,
        body: GenerationCreate,
        repo: dict[str, Any] | None,
        provider: Any,
        cancel: asyncio.Event,
        log: EventLog,
    ) -> None:
        from .agent.loop import GenerationRequest, run_generation
        from .kernel import KernelExecutor

        kernel_id = body.kernel_id
        own_kernel = False
        started = time.monotonic()
        status, message, usage, provenance = "failed", None, {}, {}
        try:
            if repo is None and body.source:
                await log.emit("status", {"phase": "ingest", "message": f"Reading {body.source}"})
                repo = await self.ingest(owner, body.source, body.ref)
                await self.store.update_generation(gen_id, provenance={"repo_id": repo["id"]})
            model = None
            if body.hf_model_id:
                await log.emit(
                    "status", {"phase": "model", "message": f"Fetching {body.hf_model_id} from the Hub"}
                )
                try:
                    model = await self.model_info(owner, body.hf_model_id)
                except CookbookError as err:
                    await log.emit("warning", {"message": f"Model metadata unavailable: {err.message}"})
            if kernel_id is None:
                await log.emit("status", {"phase": "kernel", "message": "Starting a kernel"})
                if self._kernel_starts is None:
                    self._kernel_starts = asyncio.Semaphore(max(2, os.cpu_count() or 1))
                async with self._kernel_starts:
                    kernel_id = await self.kernel_manager.start_kernel(kernel_name="python3")
                    own_kernel = True
                    executor = KernelExecutor(
                        self.kernel_manager.get_kernel(kernel_id), cell_timeout=self.config.cell_timeout
                    )
                    # Until it answers, a new kernel is a process importing IPython: CPU-bound.
                    await executor.connect(timeout=min(60.0, self.config.cell_timeout), cancel=cancel)
            else:
                km = self.kernel_manager.get_kernel(kernel_id)
                executor = KernelExecutor(km, cell_timeout=self.config.cell_timeout)
            secret_env = await self.to_thread(self.kernel_secrets, owner, body, repo)
            request = GenerationRequest(
                prompt=body.prompt,
                template=body.template,
                topic=body.topic,
                complexity=body.complexity,
                hf_model_id=body.hf_model_id,
                data_path=str(self.confined_path(body.data_path, what="data_path"))
                if body.data_path
                else None,
                compare_with=body.compare_with,
            )
            try:
                outcome = await run_generation(
                    generation_id=gen_id,
                    request=request,
                    repo=repo,
                    model=model,
                    provider=provider,
                    executor=executor,
                    sink=_MaskedSink(log),
                    budgets=self.budgets(),
                    cancel=cancel,
                    secret_names=sorted(secret_env),
                    secret_env=secret_env,
                    redact=self._redactors[gen_id],
                    approval_mode=body.approval or self.config.approval_mode,
                    approve=partial(self._ask_approval, gen_id),
                )
            finally:
                await executor.close()
                await provider.aclose()
            status, message = outcome.status, outcome.message
            usage = _usage_dict(outcome.usage, outcome.turns)
            usage["seconds"] = round(time.monotonic() - started, 3)
            provenance = {
                "repo": {
                    "url": (repo or {}).get("url"),
                    "commit": (repo or {}).get("commit"),
                    "source": (repo or {}).get("source"),
                },
                "hf": {"id": (model or {}).get("id"), "sha": (model or {}).get("sha")},
                "provider": getattr(provider, "name", None),
                "model": getattr(provider, "model", None),
            }
        except asyncio.CancelledError:
            status, message = "interrupted", "The server stopped during this generation."
            raise
        except CookbookError as err:
            status, message = "failed", err.message
            await log.emit("failed", {"code": err.code, "message": err.message})
        except Exception:  # a bug must not take the server down or lose the history
            self.log.exception("Cookbook generation %s crashed", gen_id)
            status, message = "failed", "The generation stopped on an internal error; see the server log."
            await log.emit("failed", {"code": "internal_error", "message": message})
        finally:
            self._running.pop(gen_id, None)
            if body.kernel_id:
                self._kernel_owner.pop(body.kernel_id, None)
            if status != "interrupted":
                await self.store.update_generation(
                    gen_id,
                    status=status,
                    message=message,
                    usage=usage,
                    finished_at=time.time(),
                    provenance=provenance,
                )
            if own_kernel and kernel_id is not None:
                try:
                    await self.kernel_manager.shutdown_kernel(kernel_id)
                except Exception:  # the kernel may be gone already
                    self.log.debug("kernel %s already gone", kernel_id)
            self._redactors.pop(gen_id, None)
            self.notify(gen_id)

    def confined_path(self, path: str, *, what: str) -> Path:
        """A user-given path resolved inside the Jupyter root dir (symlinks followed)."""
        if "\x00" in path:
            raise BadRequest(f"{what} contains a NUL character.")
        root = self.config.root_dir.resolve()
        candidate = (root / path).resolve()
        if candidate != root and root not in candidate.parents:
            raise Forbidden(f"{what} must be inside the Jupyter root folder.")
        if not candidate.exists():
            raise NotFound(f"{what} {path!r} does not exist under the Jupyter root folder.")
        return candidate

    def kernel_secrets(
        self, owner: str, body: GenerationCreate, repo: dict[str, Any] | None
    ) -> dict[str, str]:
        """The secrets this recipe needs in the kernel: HF_TOKEN for the Hub, and any other stored
        secret whose name the repository's context or the prompt mentions. Provider keys stay out
        of the kernel unless the repository itself uses them."""
        mentioned = " ".join(
            [body.prompt, body.topic or "", ((repo or {}).get("context") or {}).get("markdown", "")]
        )
        names = {str(s["name"]) for s in self.secrets.list(owner)} | {"HF_TOKEN"}
        out = {}
        for name in sorted(names):
            if name == "HF_TOKEN" or re.search(rf"\b{re.escape(name)}\b", mentioned):
                value = self.secret(owner, name)
                if value:
                    out[name] = value
        return out

    async def _ask_approval(self, gen_id: str, payload: dict[str, Any]) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._approvals[payload["approval_id"]] = (gen_id, future)
        try:
            return await future
        finally:
            self._approvals.pop(payload["approval_id"], None)

    async def answer_approval(self, gen_id: str, approval_id: str, approved: bool) -> dict[str, Any]:
        await self.store.get_generation(gen_id)  # 404 for an unknown generation
        pending = self._approvals.get(approval_id)
        if pending is None or pending[0] != gen_id:
            raise NotFound("No cell of this generation is waiting for that approval.")
        future = pending[1]
        if future.done():
            raise Conflict("This approval was already answered.")
        future.set_result(approved)
        return {"approval_id": approval_id, "approved": approved}

    async def cancel_generation(self, gen_id: str) -> dict[str, Any]:
        record = await self.store.get_generation(gen_id)
        run = self._running.get(gen_id)
        if run is not None:
            run.cancel.set()
        return {"id": gen_id, "status": "cancelling" if run else record["status"]}

    async def get_generation(self, gen_id: str) -> dict[str, Any]:
        record = await self.store.get_generation(gen_id)
        record["cells"] = await self.validated_cells(gen_id)
        record["last_seq"] = await self.store.last_seq(gen_id)
        return record

    async def list_generations(self) -> list[dict[str, Any]]:
        return await self.store.list_generations()

    async def validated_cells(self, gen_id: str) -> list[dict[str, Any]]:
        """The notebook's cells as the events built them: each `cell_validated` puts its cell at
        `index` among the validated ones (replacing an earlier version), `cell_invalidated` drops it.
        The same replay the front end does, so the download and the live notebook agree."""
        events = await self.store.events_of_types(gen_id, ("cell_validated", "cell_invalidated"))
        order: list[str] = []
        cells: dict[str, dict[str, Any]] = {}
        for ev in events:
            cell_id = ev["data"].get("cell_id")
            if cell_id in cells:
                order.remove(cell_id)
                del cells[cell_id]
            if ev["type"] == "cell_validated":
                index = ev["data"].get("index")
                order.insert(index if isinstance(index, int) else len(order), cell_id)
                cells[cell_id] = ev["data"]["cell"]
        return [cells[c] for c in order]

    async def notebook(self, gen_id: str) -> tuple[str, bytes]:
        from .notebook import build_notebook, notebook_bytes

        record = await self.store.get_generation(gen_id)
        cells = await self.validated_cells(gen_id)
        provenance = {
            "generation_id": gen_id,
            "recipe": {k: record["request"].get(k) for k in ("prompt", "template", "topic", "complexity")},
            "provider": record["provider"],
            "model": record["model"],
            "usage": record["usage"],
            "status": record["status"],
            **{k: v for k, v in (record.get("provenance") or {}).items() if k in ("repo", "hf")},
        }
        nb = build_notebook(cells, provenance=provenance)
        name = f"cookbook-{gen_id[:8]}.ipynb"
        return name, notebook_bytes(nb)

    # -- event stream ---------------------------------------------------------------------------

    async def _store_event(self, log: EventLog, event: dict[str, Any]) -> None:
        """Store `event` and return once it is committed (group commit).

        Events queue here in the order they were emitted; one writer task stores everything
        queued in one transaction on the store's thread, then makes the events readable
        (EventLog memory, then notify) and only then wakes their emitters. While a transaction
        runs, the next events queue up for the next one: ten generations writing at once cost a
        few transactions, not one each, with no added delay for a lone event.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._event_queue.append((log, event, future))
        writer = self._event_writer
        if writer is None or writer.done() or writer.get_loop() is not future.get_loop():
            self._event_writer = asyncio.ensure_future(self._write_events())
        # A cancelled emitter leaves its event queued: it is stored all the same, in order.
        await future

    async def _write_events(self) -> None:
        while self._event_queue:
            batch, self._event_queue = self._event_queue, []
            try:
                await self.store.add_event_rows([_event_row(log, ev) for log, ev, _ in batch])
                groups = [batch]
            except Exception:
                # One generation's bad write must not cost the others theirs: each on its own.
                by_gen: dict[str, list[tuple[EventLog, dict[str, Any], asyncio.Future[None]]]] = {}
                for item in batch:
                    by_gen.setdefault(item[0].generation_id, []).append(item)
                groups = []
                for items in by_gen.values():
                    try:
                        await self.store.add_event_rows([_event_row(log, ev) for log, ev, _ in items])
                        groups.append(items)
                    except Exception as exc:
                        self.log.exception("Cookbook could not store events of %s", items[0][0].generation_id)
                        _fail_events(items, exc)
            except BaseException:  # cancelled (the loop is closing): nothing more gets written
                _fail_events(batch + self._event_queue, RuntimeError("The event store was stopped."))
                self._event_queue = []
                raise
            for items in groups:
                for log, ev, _ in items:
                    log._on_stored(ev)
            for gen_id in dict.fromkeys(log.generation_id for items in groups for log, _, _ in items):
                self.notify(gen_id)
            for items in groups:
                for _, _, future in items:
                    if not future.done():
                        future.set_result(None)

    def notify(self, gen_id: str) -> None:
        signal = self._signals.pop(gen_id, None)
        if signal is not None:
            signal.set()

    async def wait_events(self, gen_id: str, after: int, timeout: float) -> dict[str, Any]:
        if gen_id not in self._running:
            await self.store.get_generation(gen_id)  # 404 for an unknown id
        deadline = time.monotonic() + timeout
        while True:
            # Take the signal before reading so an event stored in between still wakes us.
            signal = self._signals.setdefault(gen_id, asyncio.Event())
            run = self._running.get(gen_id)
            running = run is not None
            # A running generation's latest events are in memory (stored first, then kept there).
            events = run.log.events_after(after, EVENTS_PAGE) if run is not None else None
            if events is None:
                events = await self.store.events_after(gen_id, after, limit=EVENTS_PAGE)
            if events or not running:
                # Events are stored before the task ends, so a finished task with nothing more
                # to read means the stream is complete.
                return {"events": events, "done": not running and len(events) < EVENTS_PAGE}
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return {"events": [], "done": False}
            try:
                await asyncio.wait_for(signal.wait(), timeout=remaining)
            except asyncio.TimeoutError:
                pass

    # -- secrets --------------------------------------------------------------------------------

    async def put_secret(self, owner: str, name: str, value: str) -> dict[str, Any]:
        self._keys_cache.pop(owner, None)
        try:
            return await self.to_thread(self.secrets.put, owner, name, value)
        finally:
            self._keys_cache.pop(owner, None)

    async def list_secrets(self, owner: str) -> list[dict[str, Any]]:
        return await self.to_thread(self.secrets.list, owner)

    async def delete_secret(self, owner: str, name: str) -> None:
        try:
            await self.to_thread(self.secrets.delete, owner, name)
        finally:
            self._keys_cache.pop(owner, None)


class _StoreCache:
    """hub.ModelCache over the store."""

    def __init__(self, store: Store):
        self._store = store

    def get(self, key: str) -> tuple[dict[str, Any], float] | None:
        return self._store.cache_get(key)

    def put(self, key: str, data: dict[str, Any]) -> None:
        self._store.cache_put(key, data)


async def _touch_anyio() -> None:
    import anyio

    anyio.Event()


def _event_row(log: EventLog, event: dict[str, Any]) -> tuple[str, int, str, Any, float]:
    return (log.generation_id, event["seq"], event["type"], event["data"], event["ts"])


def _fail_events(
    items: list[tuple[EventLog, dict[str, Any], asyncio.Future[None]]], exc: BaseException
) -> None:
    for log, _, future in items:
        log._on_lost()
        if not future.done():
            future.set_exception(exc)


def _usage_dict(usage: Any, turns: int) -> dict[str, Any]:
    fields = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd")
    out = {f: getattr(usage, f, 0) for f in fields}
    out["turns"] = turns
    return out


def repo_summary(repo: dict[str, Any]) -> dict[str, Any]:
    """What lists and the panel need: the ingestion result without the bulky parts."""
    keep = (
        "id",
        "source",
        "kind",
        "url",
        "owner",
        "repo",
        "ref",
        "commit",
        "name",
        "metadata",
        "stats",
        "dependencies",
        "license",
        "hf_ids",
        "warnings",
        "created_at",
        "updated_at",
    )
    out = {k: repo.get(k) for k in keep}
    out["examples"] = [{k: e.get(k) for k in ("path", "title", "kind")} for e in repo.get("examples", [])]
    out["readmes"] = [{"path": r.get("path")} for r in repo.get("readmes", [])]
    out["notebooks"] = [{"path": n.get("path")} for n in repo.get("notebooks", [])]
    out["files_count"] = len(repo.get("files", []))
    ctx = repo.get("context") or {}
    out["context"] = {k: ctx.get(k) for k in ("total_tokens", "budget", "sections")}
    return out
