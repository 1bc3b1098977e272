"""The generation runner: starts a generation (validate, screen, pick the provider, claim the
kernel), runs the engine as an asyncio task on the server's loop with the secrets the user granted,
answers approvals, cancels, and keeps the record: status, usage, provenance, the notebook.

No tornado here; the REST handlers and the CLI both drive it.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import contextvars
import functools
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from traitlets import Enum, Float, Integer
from traitlets.config import LoggingConfigurable

from . import __version__
from .agent.types import Budgets
from .api_models import GenerationCreate
from .errors import BadRequest, Conflict, CookbookError, Invalid, NotFound, TooLarge, TooMany
from .event_log import EventLog, GenerationLog
from .guardrails import APPROVAL_MODES
from .portable import notebook_clones, notebook_folder, notebook_links, relative_to_notebook
from .provenance import build_provenance
from .redact import Redactor
from .replay import replay_cells
from .repositories import names_a_path
from .store import AsyncStore, new_id
from .verify import VERIFY_MODES, FreshKernelCheck, Verify
from .workers import Workers

if TYPE_CHECKING:
    from .agent.follow_up import FollowUp
    from .agent.providers.registry import ProviderRegistry
    from .agent.tools import RepoTrust
    from .hf_models import ModelMetadata
    from .recipes import PreparedRecipe, RecipeRegistry
    from .repositories import RepositoryManager
    from .secrets import SecretsManager

# The free text of a generation request: secret values in it are masked before it is kept or used.
SCREENED_FIELDS = ("prompt", "topic", "compare_with")
_STOPPED = "The server stopped during this generation."


@dataclass
class Running:
    task: asyncio.Task[None]
    cancel: asyncio.Event
    kernel_id: str | None
    log: GenerationLog
    trust: RepoTrust  # flipped by "Trust this repository and run"


def _recipe_provenance(prepared: PreparedRecipe | None) -> dict[str, Any]:
    return {"recipe": prepared.ref()} if prepared is not None else {}


def _recipe_ref(record: dict[str, Any]) -> dict[str, Any] | None:
    """The recipe a stored generation records ({id, version, sha256, source, pack?}), or None for
    one made before recipes had versions."""
    from .provenance import RECIPE_REF_FIELDS

    stored = (record.get("provenance") or {}).get("recipe")
    if not isinstance(stored, dict) or not stored.get("version"):
        return None
    return {k: stored[k] for k in RECIPE_REF_FIELDS if stored.get(k) is not None}


def effective_approval_mode(requested: str | None, default: str, floor: str) -> str:
    """The approval mode a generation runs with: what it asked for (else the default), never
    below the administrator's floor."""
    mode = requested or default
    if APPROVAL_MODES.index(mode) < APPROVAL_MODES.index(floor):
        return floor
    return mode


# Set while a comparison starts its runs, whose slots it took together (reserved_slots).
_SLOTS_RESERVED: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "cookbook_slots_reserved", default=False
)


def _holds_a_running_slot(
    start: Callable[[GenerationRunner, GenerationCreate], Awaitable[dict[str, Any]]],
) -> Callable[[GenerationRunner, GenerationCreate], Awaitable[dict[str, Any]]]:
    """`start` counts against max_running_generations from its first line, so starts arriving
    together cannot all pass the check before any of them is running."""

    @functools.wraps(start)
    async def limited(self: GenerationRunner, body: GenerationCreate) -> dict[str, Any]:
        if _SLOTS_RESERVED.get():  # a comparison holds the slots of all its runs (reserved_slots)
            return await start(self, body)
        limit = self.max_running_generations
        busy = len(self._running) + self._starting
        if limit > 0 and busy >= limit:
            raise TooMany(
                f"This server is already running {busy} generation(s), the most it runs at once "
                f"(max_running_generations = {limit}). Wait for one to finish, or cancel one, "
                "then try again.",
                details={"running": busy, "limit": limit},
            )
        self._starting += 1
        try:
            return await start(self, body)
        finally:
            self._starting -= 1

    return limited


class GenerationRunner(LoggingConfigurable):
    cell_timeout = Float(
        Budgets.cell_timeout, config=True, help="Seconds one cell may run before it is interrupted."
    )
    max_turns = Integer(Budgets.max_turns, config=True, help="Model turns per generation.")
    max_tokens = Integer(Budgets.max_tokens, config=True, help="Tokens (in + out) per generation.")
    max_seconds = Float(Budgets.max_seconds, config=True, help="Wall time per generation, in seconds.")
    max_cost_usd = Float(Budgets.max_cost_usd, config=True, help="Estimated cost per generation, in USD.")
    output_chars = Integer(
        Budgets.output_chars, config=True, help="Characters of a cell's output sent back to the model."
    )
    max_prompt_chars = Integer(20000, config=True, help="Longest recipe prompt accepted.")
    approval_mode = Enum(
        list(APPROVAL_MODES),
        default_value="risky",
        config=True,
        help="Ask before running a cell: never, risky (installs, shell, deletions, network) or always. "
        "Code from a repository the user has not trusted asks whatever this says.",
    )
    approval_floor = Enum(
        list(APPROVAL_MODES),
        default_value="never",
        config=True,
        help="The least approval any generation gets (never < risky < always): a request asking "
        "for less runs with this, and its events say so.",
    )
    max_running_generations = Integer(
        4, config=True, help="Generations one server runs at once (0: no limit); past it, 429."
    )
    verify = Enum(
        list(VERIFY_MODES),
        default_value="fresh_kernel",
        config=True,
        help="After a generation: fresh_kernel re-runs the notebook top to bottom in a new kernel of "
        "the same kernelspec (a `verified` event, and the notebook's provenance, say how it went); "
        "off does not. A request's `verify` overrides it.",
    )
    verify_min_free_mb = Integer(
        1024,
        config=True,
        help="Free memory (MB, MemAvailable) the fresh-kernel check needs next to the building "
        "kernel; with less it is skipped, and says so.",
    )
    verify_copy_max_mb = Integer(
        200,
        config=True,
        help="Largest notebook folder (MB) the fresh-kernel check copies into its scratch folder; "
        "a larger one is not copied and the check is skipped, and says so.",
    )
    repair_turns = Integer(
        6,
        config=True,
        help="Model turns a model-backed provider gets to fix a notebook that failed the "
        "fresh-kernel check (then it is checked once more); 0: no repair.",
    )

    def __init__(
        self,
        *,
        store: AsyncStore,
        events: EventLog,
        repositories: RepositoryManager,
        models: ModelMetadata,
        providers: ProviderRegistry,
        secrets: SecretsManager,
        workers: Workers,
        kernel_manager: Any = None,
        recipes: RecipeRegistry | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if recipes is None:
            from .recipes import builtin_registry

            recipes = builtin_registry()
        self.recipes = recipes
        self._prepared: dict[str, PreparedRecipe] = {}  # generation id -> its recipe, until _run takes it
        self.store = store
        self.events = events
        self.repositories = repositories
        self.models = models
        self.providers = providers
        self.secrets = secrets
        self.workers = workers
        self.kernel_manager = kernel_manager
        self._running: dict[str, Running] = {}
        self._starting = 0  # start() calls under way (see _holds_a_running_slot)
        self._kernel_owner: dict[str, str] = {}  # kernel id -> the generation running in it
        self._approvals: dict[str, tuple[str, asyncio.Future[bool]]] = {}
        self._status: dict[str, Any] | None = None  # cookbook/status, until a secret changes
        # Kernels starting at once: each is a process importing IPython, which on a small machine
        # takes the CPU from the server; more than a few at a time only slow everyone down.
        self._kernel_starts: asyncio.Semaphore | None = None
        secrets.on_change(self._forget_status)
        repositories.on_trust_changed(self._trust_changed)

    # -- status -----------------------------------------------------------------------------------

    def _forget_status(self) -> None:
        self._status = None

    async def status(self) -> dict[str, Any]:
        """Version, providers (plug-ins too) and the default. Cached: the environment is fixed for
        the server's life and the cache is dropped whenever a secret changes, so status never
        waits on a thread after the first call."""
        cached = self._status
        if cached is None:
            found = await self.workers.run(self.providers.status, self.secrets.resolve)
            by_name = {p["name"]: p for p in found["providers"]}
            cached = self._status = {
                "version": __version__,
                "providers": found["providers"],
                "default_provider": found["default_provider"],
                "api_key_configured": any(
                    by_name.get(n, {}).get("configured", False) for n in ("anthropic", "openai")
                ),
            }
        return cached

    def budgets(self) -> Budgets:
        return Budgets(
            max_turns=self.max_turns,
            max_tokens=self.max_tokens,
            max_seconds=self.max_seconds,
            max_cost_usd=self.max_cost_usd,
            cell_timeout=self.cell_timeout,
            output_chars=self.output_chars,
        )

    # -- redaction --------------------------------------------------------------------------------

    def redactor(self) -> Redactor:
        """Masks every secret value the user's generations may meet (blocking: reads the store):
        stored and deployment secrets, and the provider keys in the server's environment."""
        values = list(self.secrets.values())
        for name in self.providers.key_names():
            if os.environ.get(name):
                values.append(os.environ[name])
        return Redactor(values)

    def _screen(self, body: GenerationCreate, redact: Callable[[str], str]) -> GenerationCreate:
        """The request as it is stored, listed, written into the notebook and sent to the model:
        secret values masked in its free text. For use_my_data, a topic naming a file or folder
        becomes data_path, confined to the root exactly like data_path (403 outside, 404 missing):
        no provider reads a topic as a path."""
        update: dict[str, Any] = {}
        for name in SCREENED_FIELDS:
            value = getattr(body, name)
            if isinstance(value, str) and redact(value) != value:
                update[name] = redact(value)
        topic = update.get("topic", body.topic)
        if body.template == "use_my_data" and not body.data_path and topic:
            confine = self.repositories.confined_path
            if names_a_path(topic):
                update["data_path"] = str(confine(topic.strip(), what="topic"))
            else:  # a name with spaces ("My data") that is there counts too
                try:
                    update["data_path"] = str(confine(topic.strip(), what="topic"))
                except CookbookError:
                    pass
        return body.model_copy(update=update) if update else body

    # -- starting ---------------------------------------------------------------------------------

    @_holds_a_running_slot
    async def start(self, body: GenerationCreate) -> dict[str, Any]:
        """Validate everything a user can get wrong, then start the generation: 202 material.
        Nothing is stored for a refused request."""
        redact = await self.workers.run(self.redactor)
        if body.parent_id:
            body = await self._inherit(body)
        body = self._screen(body, redact)
        if len(body.prompt) > self.max_prompt_chars:
            raise TooLarge(f"The prompt is longer than {self.max_prompt_chars} characters; shorten it.")
        # The recipe: 404 unknown, 409 a pinned version that is gone, 422 naming a bad input or a
        # template that fails to render. The stored request pins the version ("run again").
        body, recipe = await self.workers.run(self.prepare_recipe, body, redact)
        if body.hf_model_id:
            from .huggingface import validate_model_id

            validate_model_id(body.hf_model_id)
        repo = await self.repositories.get(body.repo_id) if body.repo_id else None
        if body.source:
            await self.workers.run(self.repositories.check_source, body.source, body.ref)
        provider_name = body.provider or (await self.status())["default_provider"]
        provider = await self.workers.run(
            self.providers.make, provider_name, secret=self.secrets.resolve, model=body.model
        )
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
            self.repositories.confined_path(body.data_path, what="data_path")
        if body.notebook_path:
            self._notebook_folder(body.notebook_path)
        if body.secrets:
            await self.workers.run(self.kernel_secrets, body)  # 422 for a name not stored
        if body.trust and repo is not None:
            repo = await self.repositories.set_trust(repo["id"], True)
        gen_id = new_id()
        record = await self.store.create_generation(
            generation_id=gen_id,
            # A follow-up's notebook cells go to its agent, not into the history.
            request=body.model_dump(exclude_none=True, exclude={"notebook_cells"}),
            provider=provider_name,
            model=getattr(provider, "model", None),
            repo_id=repo["id"] if repo else None,
            kernel_id=body.kernel_id,
            provenance={"recipe": recipe.ref()},
            parent_id=body.parent_id,
        )
        self._prepared[gen_id] = recipe
        from .agent.tools import RepoTrust

        cancel = asyncio.Event()
        log = self.events.open(gen_id, redact=redact.obj)
        trust = RepoTrust()
        if body.kernel_id:
            self._kernel_owner[body.kernel_id] = gen_id
        task = asyncio.create_task(self._run(gen_id, body, repo, provider, cancel, log, trust, redact))
        self._running[gen_id] = Running(
            task=task, cancel=cancel, kernel_id=body.kernel_id, log=log, trust=trust
        )
        return record

    def _notebook_folder(self, notebook_path: str) -> Path:
        """The folder of the user's notebook (`notebook_path`, confined to the root: 403
        outside, 404 missing, 400 for a folder), copied for the fresh-kernel check."""
        path = self.repositories.confined_path(notebook_path, what="notebook_path")
        if path.is_dir():
            raise BadRequest("notebook_path names a folder; give the path of the notebook file.")
        return path.parent

    def _fresh_kernel_check(
        self,
        body: GenerationCreate,
        secret_env: dict[str, str],
        drop: list[str],
        links: dict[str, Path] | None = None,
        clones: dict[str, str] | None = None,
    ) -> FreshKernelCheck | None:
        """The check after this generation (None: verify is off): a new kernel of the
        building kernel's spec, credential-free but for the secrets the user granted. `links`:
        what the notebook reaches outside its folder (portable.notebook_links)."""
        if (body.verify or self.verify) == "off":
            return None
        kernel_name = "python3"
        if body.kernel_id is not None and self.kernel_manager is not None:
            kernel_name = (
                getattr(self.kernel_manager.get_kernel(body.kernel_id), "kernel_name", "") or kernel_name
            )
        from .kernel_env import kernel_environment

        folder, skip = None, None
        if body.notebook_path:
            try:  # checked at the start; the user may have moved it since
                folder = self._notebook_folder(body.notebook_path)
            except CookbookError as err:
                skip = f"the notebook's folder cannot be copied: {err.message}"
        return FreshKernelCheck(
            kernel_name=kernel_name,
            folder=folder,
            skip_reason=skip,
            env={**kernel_environment(also_drop=drop), **secret_env},
            cell_timeout=self.cell_timeout,
            min_free_mb=self.verify_min_free_mb,
            max_copy_mb=self.verify_copy_max_mb,
            kernel_spec_manager=getattr(self.kernel_manager, "kernel_spec_manager", None),
            links=links or {},
            clones=clones or {},
        )

    async def _credential_names(self) -> list[str]:
        """What a kernel Cookbook starts never inherits: the deployment's and the user's secrets
        and the provider keys (kernel_env drops credential-shaped names besides)."""
        return [*self.secrets.admin_secrets, *await self.secrets.names(), *self.providers.key_names()]

    def prepare_recipe(
        self, body: GenerationCreate, redact: Redactor | None = None
    ) -> tuple[GenerationCreate, PreparedRecipe]:
        """The body with the recipe's inputs applied, and the recipe prepared (blocking)."""
        from .portable import relative_to_notebook
        from .recipes.request import apply_recipe

        def confine(value: str, what: str) -> Path:
            # Like data_path: under the root, and seen relative to the notebook's folder.
            path = self.repositories.confined_path(value, what=what)
            root = self.repositories.root_dir
            return Path(relative_to_notebook(path, root_dir=root, notebook_path=body.notebook_path))

        return apply_recipe(body, self.recipes, confine=confine, redact=redact)

    def kernel_secrets(self, body: GenerationCreate) -> dict[str, str]:
        """The secrets the user granted this generation's kernel (`secrets` in the request), by
        name. Nothing is chosen from the repository, the prompt or the model; provider keys enter
        a kernel only when the user names them too."""
        stored = {str(s["name"]) for s in self.secrets.list_sync()}
        out = {}
        for name in dict.fromkeys(body.secrets):
            if name not in stored:
                raise Invalid(
                    f"secrets: there is no stored secret named {name}; add it under Secrets first.",
                    details={"field": "secrets", "name": name},
                )
            value = self.secrets.get(name)
            if not value:
                raise Invalid(
                    f"secrets: the stored secret {name} cannot be read; save it again.",
                    details={"field": "secrets", "name": name},
                )
            out[name] = value
        return out

    # -- follow-ups -------------------------------------------------------------------------------

    async def _inherit(self, body: GenerationCreate) -> GenerationCreate:
        """A follow-up's request, completed from its parent (lineage.inherit): 404 for a parent
        that is not there, 409 for one still running."""
        from .lineage import inherit

        assert body.parent_id is not None
        parent = await self.store.get_generation(body.parent_id)
        if self.is_running(body.parent_id):
            raise Conflict(
                "The generation this follows up is still running; wait for it to finish or cancel it.",
                details={"generation_id": body.parent_id},
            )
        return inherit(body, parent)

    async def _follow_up(
        self,
        body: GenerationCreate,
        executor: Any,
        own_kernel: bool,
        log: GenerationLog,
        cancel: asyncio.Event,
    ) -> FollowUp:
        """What a follow-up's agent knows (lineage.follow_up_context): the thread from the store,
        the unit's cells as the request sent them, and the kernel's state, read with one silent
        execute. In a kernel of its own the unit's code cells run first, so the new cells can
        build on what they define."""
        from .lineage import chain, follow_up_context, thread_cells

        assert body.parent_id is not None
        generations = await chain(self.store, body.parent_id)
        if not generations:
            raise NotFound(f"No generation with id {body.parent_id!r}.")
        if own_kernel:
            if body.notebook_cells is not None:
                sources = [c.source for c in body.notebook_cells if c.cell_type == "code"]
            else:
                cells = await thread_cells(self.store, generations)
                sources = [str(c.get("source") or "") for c in cells if c.get("cell_type") == "code"]
            await self._replay(executor, [src for src in sources if src.strip()], log, cancel)
        await log.emit("status", {"phase": "kernel", "message": "Reading what the kernel holds"})
        state = await executor.read_namespace(timeout=min(15.0, self.cell_timeout))
        if state is None:
            await log.emit(
                "warning",
                {
                    "message": "The kernel did not say what it holds (it may be busy with a cell); "
                    "the follow-up goes on without its variables.",
                    "code": "kernel_state_unavailable",
                },
            )
        return await follow_up_context(self.store, generations, body.notebook_cells, state)

    async def _replay(
        self, executor: Any, sources: builtins.list[str], log: GenerationLog, cancel: asyncio.Event
    ) -> None:
        """Run the unit's code cells in a new kernel before a follow-up builds on them."""
        if not sources:
            return
        await log.emit(
            "status",
            {
                "phase": "kernel",
                "message": f"Running the notebook's {len(sources)} code cell(s) first, so the new "
                "ones can build on them",
            },
        )
        failed = 0
        for source in sources:
            if cancel.is_set():
                return
            result = await executor.execute(source, timeout=self.cell_timeout, cancel=cancel)
            failed += not result.ok
            if result.status == "dead":
                break
        if failed:
            await log.emit(
                "warning",
                {"message": f"{failed} of the notebook's cells did not run again in the new kernel."},
            )

    async def _alternatives(self, provider_name: str) -> builtins.list[dict[str, Any]]:
        """The other providers a failed run may offer (cookbook/status: available ones only)."""
        found = (await self.status())["providers"]
        return [
            {
                "name": p["name"],
                "display_name": p.get("display_name") or p["name"],
                "available": bool(p.get("available")),
                "uses_model": bool(p.get("uses_model", True)),
            }
            for p in found
            if p.get("name") != provider_name and p.get("available")
        ]

    # -- running ----------------------------------------------------------------------------------

    async def _run(
        self,
        gen_id: str,
        body: GenerationCreate,
        repo: dict[str, Any] | None,
        provider: Any,
        cancel: asyncio.Event,
        log: GenerationLog,
        trust: RepoTrust,
        redact: Redactor,
    ) -> None:
        from .agent.loop import GenerationRequest, run_generation

        started = time.monotonic()
        status, message, usage, provenance = "failed", None, {}, {}
        cause: str | None = None
        next_steps: list[dict[str, Any]] = []
        cells_count: int | None = None
        prepared = self._prepared.pop(gen_id, None)
        executor = None
        own_kernel_id: str | None = None
        try:
            if repo is None and body.source:
                await log.emit("status", {"phase": "ingest", "message": f"Reading {body.source}"})
                repo = await self.repositories.ingest(body.source, body.ref, trust=body.trust)
                await self.store.update_generation(
                    gen_id,
                    repo_id=repo["id"],
                    provenance={"repo_id": repo["id"], **_recipe_provenance(prepared)},
                )
            if repo is not None:
                trust.repo_id = repo["id"]
                trust.label = str(repo.get("url") or repo.get("source") or repo.get("name") or "")
                trust.trusted = trust.trusted or bool(repo.get("trusted"))
            mode = await self._approval_mode(body, log)
            model = None
            if body.hf_model_id:
                await log.emit(
                    "status", {"phase": "model", "message": f"Fetching {body.hf_model_id} from the Hub"}
                )
                try:
                    model = await self.models.info(body.hf_model_id)
                except CookbookError as err:
                    await log.emit("warning", {"message": f"Model metadata unavailable: {err.message}"})
                if model is not None and model.get("from_cache"):
                    await log.emit(
                        "status",
                        {"phase": "model", "message": f"{body.hf_model_id}: {model.get('message')}"},
                    )
            if body.kernel_id is None:
                await log.emit("status", {"phase": "kernel", "message": "Starting a kernel"})
                # Started in the notebook's folder, as Jupyter starts a notebook's kernel: the
                # notebook's paths are relative to it.
                folder = notebook_folder(self.repositories.root_dir, body.notebook_path)
                own_kernel_id, executor = await self._start_kernel(cancel, cwd=folder)
            else:
                from .kernel import KernelExecutor

                km = self.kernel_manager.get_kernel(body.kernel_id)
                executor = KernelExecutor(km, cell_timeout=self.cell_timeout)
            notebook_path = await self._notebook_path(body, executor)
            # What the engine and the notebook see: where the notebook finds the repository on
            # any machine, and no path of this one (portable.py).
            engine_repo = (
                await self.workers.run(self.repositories.for_notebook, repo, notebook_path)
                if repo is not None
                else None
            )
            secret_env = await self.workers.run(self.kernel_secrets, body)
            follow_up = (
                await self._follow_up(body, executor, own_kernel_id is not None, log, cancel)
                if body.parent_id
                else None
            )
            request = GenerationRequest(
                prompt=body.prompt,
                template=body.template,
                topic=body.topic,
                complexity=body.complexity,
                hf_model_id=body.hf_model_id,
                data_path=relative_to_notebook(
                    self.repositories.confined_path(body.data_path, what="data_path"),
                    root_dir=self.repositories.root_dir,
                    notebook_path=notebook_path,
                )
                if body.data_path
                else None,
                compare_with=body.compare_with,
                instructions=prepared.instructions if prepared else None,
                recipe=prepared.ref() if prepared else None,
                inputs=body.inputs or None,
                offline=prepared.recipe.spec.offline.model_dump() if prepared else None,
                follow_up=follow_up,
            )
            links = notebook_links(
                (engine_repo or {}).get("location"),
                [request.data_path] if request.data_path else [],
                root_dir=self.repositories.root_dir,
                notebook_path=notebook_path,
            )
            check: Verify | None = self._fresh_kernel_check(
                body,
                secret_env,
                await self._credential_names(),
                links=links,
                clones=notebook_clones((engine_repo or {}).get("location")),
            )
            if check is not None and follow_up is not None:
                from .lineage import ThreadCheck

                check = ThreadCheck(check, follow_up)  # the notebook above the follow-up runs first
            try:
                outcome = await run_generation(
                    generation_id=gen_id,
                    request=request,
                    repo=engine_repo,
                    model=model,
                    provider=provider,
                    executor=executor,
                    sink=log.masked_sink(),
                    budgets=self.budgets(),
                    cancel=cancel,
                    secret_names=sorted(secret_env),
                    secret_env=secret_env,
                    redact=redact,
                    repo_within=self.repositories.checkout_roots(),
                    approval_mode=mode,
                    approve=functools.partial(self._ask_approval, gen_id),
                    trust=trust,
                    verify=check,
                    repair_turns=self.repair_turns,
                    alternatives=await self._alternatives(getattr(provider, "name", "")),
                )
            finally:
                if secret_env and not body.keep_secrets and own_kernel_id is None:
                    await self._take_secrets_back(executor, sorted(secret_env), log)
                await executor.close()
                await provider.aclose()
            status, message = outcome.status, outcome.message
            cause, next_steps, cells_count = outcome.cause, outcome.next_steps, len(outcome.cells)
            usage = {**outcome.usage.to_dict(), "turns": outcome.turns}
            usage["seconds"] = round(time.monotonic() - started, 3)
            provenance = build_provenance(
                generation_id=gen_id,
                request=request,
                repo=engine_repo,
                model=model,
                provider=getattr(provider, "name", None),
                model_name=getattr(provider, "model", None),
                usage=usage,
                verification=outcome.verification,
                parent_id=body.parent_id,
            )
        except asyncio.CancelledError:
            status, message = "interrupted", _STOPPED
            raise
        except CookbookError as err:
            status, message, cause, cells_count = "failed", err.message, err.message, 0
            failed = {"code": err.code, "message": err.message, "cause": cause, "next_steps": []}
            await log.emit("failed", failed)
        except Exception:  # a bug must not take the server down or lose the history
            self.log.exception("Cookbook generation %s crashed", gen_id)
            status, message = "failed", "The generation stopped on an internal error; see the server log."
            cause, cells_count = message, 0
            await log.emit(
                "failed", {"code": "internal_error", "message": message, "cause": cause, "next_steps": []}
            )
        finally:
            self._running.pop(gen_id, None)
            if body.kernel_id:
                self._kernel_owner.pop(body.kernel_id, None)
            if status != "interrupted":
                await self.store.update_generation(
                    gen_id,
                    status=status,
                    message=message,
                    cause=cause,
                    next_steps=next_steps,
                    cells_count=cells_count,
                    usage=usage,
                    finished_at=time.time(),
                    provenance={
                        k: provenance[k]
                        for k in ("repo", "hf", "provider", "model", "verification", "recipe")
                        if k in provenance
                    },
                )
            if own_kernel_id is not None:
                try:
                    await self.kernel_manager.shutdown_kernel(own_kernel_id)
                except Exception:  # the kernel may be gone already
                    self.log.debug("kernel %s already gone", own_kernel_id)
            log.close()

    async def _approval_mode(self, body: GenerationCreate, log: GenerationLog) -> str:
        mode = effective_approval_mode(body.approval, self.approval_mode, self.approval_floor)
        if body.approval and mode != body.approval:
            await log.emit(
                "warning",
                {
                    "message": f"Approval {body.approval!r} was asked for, but this server's "
                    f"administrator requires at least {mode!r}: cells are approved as {mode!r}.",
                    "code": "approval_floor",
                    "requested": body.approval,
                    "approval": mode,
                },
            )
        return mode

    async def _notebook_path(self, body: GenerationCreate, executor: Any) -> str | None:
        """Where the notebook is (its path under the root; None: at the root), which its relative
        paths start from. A kernel Cookbook started is in its folder already. The user's kernel
        moves into the folder of `notebook_path` if it is elsewhere; without one, a notebook's
        kernel (under the root) tells where the notebook is, and any other moves to the root."""
        if body.kernel_id is None:
            return body.notebook_path
        root = self.repositories.root_dir
        folder = notebook_folder(root, body.notebook_path)
        found = await executor.work_in(str(folder), root=str(root), force=bool(body.notebook_path))
        if body.notebook_path or found is None:
            return body.notebook_path
        here = Path(found)
        if here != root and root not in here.parents:
            return None
        return (here.relative_to(root) / "notebook.ipynb").as_posix()  # a notebook in that folder

    async def _start_kernel(self, cancel: asyncio.Event, cwd: Path | None = None) -> tuple[str, Any]:
        from .kernel import KernelExecutor
        from .kernel_env import kernel_environment

        if self._kernel_starts is None:
            self._kernel_starts = asyncio.Semaphore(max(2, os.cpu_count() or 1))
        async with self._kernel_starts:
            # The kernel runs repository code: it inherits no credential from this process; the
            # secrets the user granted are set explicitly.
            env = kernel_environment(also_drop=await self._credential_names())
            start: dict[str, Any] = {"cwd": str(cwd)} if cwd is not None else {}
            kernel_id = await self.kernel_manager.start_kernel(kernel_name="python3", env=env, **start)
            executor = KernelExecutor(
                self.kernel_manager.get_kernel(kernel_id), cell_timeout=self.cell_timeout
            )
            try:
                # Until it answers, a new kernel is a process importing IPython: CPU-bound.
                await executor.connect(timeout=min(60.0, self.cell_timeout), cancel=cancel)
            except BaseException:
                await executor.close()
                try:
                    await self.kernel_manager.shutdown_kernel(kernel_id)
                except Exception:
                    self.log.debug("kernel %s already gone", kernel_id)
                raise
            return kernel_id, executor

    async def _take_secrets_back(self, executor: Any, names: list[str], log: GenerationLog) -> None:
        """Take the granted secrets out of the user's kernel again (their own earlier values,
        if any, come back). A kernel that is gone or busy gets a warning, not a crash."""
        try:
            result = await asyncio.shield(executor.restore_env(names, timeout=30.0))
            ok = result.ok
        except Exception:
            self.log.debug("could not take the secrets out of the kernel", exc_info=True)
            ok = False
        if ok:
            message = f"Took the secrets out of the kernel again: {', '.join(names)}"
            await log.emit("status", {"phase": "kernel", "message": message})
        else:
            await log.emit(
                "warning",
                {
                    "message": f"The secrets ({', '.join(names)}) could not be taken out of the kernel; "
                    "restart the kernel to remove them."
                },
            )

    # -- approvals and cancel ---------------------------------------------------------------------

    async def _ask_approval(self, gen_id: str, payload: dict[str, Any]) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._approvals[payload["approval_id"]] = (gen_id, future)
        try:
            return await future
        finally:
            self._approvals.pop(payload["approval_id"], None)

    async def answer_approval(
        self, gen_id: str, approval_id: str, approved: bool, *, trust: bool = False
    ) -> dict[str, Any]:
        await self.store.get_generation(gen_id)  # 404 for an unknown generation
        pending = self._approvals.get(approval_id)
        if pending is None or pending[0] != gen_id:
            raise NotFound("No cell of this generation is waiting for that approval.")
        future = pending[1]
        if future.done():
            raise Conflict("This approval was already answered.")
        if trust:
            run = self._running.get(gen_id)
            if run is None or not run.trust.repo_id:
                raise BadRequest("This generation has no repository to trust.")
            await self.repositories.set_trust(run.trust.repo_id, True)
        future.set_result(approved)
        return {"approval_id": approval_id, "approved": approved, "trusted": trust}

    def _trust_changed(self, repo_id: str, trusted: bool) -> None:
        for run in self._running.values():  # a running generation of this repository follows
            if run.trust.repo_id == repo_id:
                run.trust.trusted = trusted

    async def cancel(self, gen_id: str) -> dict[str, Any]:
        record = await self.store.get_generation(gen_id)
        run = self._running.get(gen_id)
        if run is not None:
            run.cancel.set()
        return {"id": gen_id, "status": "cancelling" if run else record["status"]}

    def is_running(self, gen_id: str) -> bool:
        return gen_id in self._running

    def running(self) -> builtins.list[str]:
        """The generations running now."""
        return list(self._running)

    @property
    def starting(self) -> int:
        """Starts under way (each holds a slot of max_running_generations until it is running)."""
        return self._starting

    @contextlib.asynccontextmanager
    async def reserved_slots(self, count: int) -> AsyncIterator[None]:
        """Hold `count` slots of max_running_generations at once, for the starts made inside
        (a comparison's runs): 429 before any of them starts when they do not all fit."""
        limit = self.max_running_generations
        busy = len(self._running) + self._starting
        if limit > 0 and busy + count > limit:
            raise TooMany(
                f"This server runs at most {limit} generation(s) at once (max_running_generations) "
                f"and {busy} are running: there is no room for {count} more. Wait for some to "
                "finish, or compare fewer runs.",
                details={"running": busy, "limit": limit, "needed": count},
            )
        self._starting += count
        token = _SLOTS_RESERVED.set(True)
        try:
            yield
        finally:
            _SLOTS_RESERVED.reset(token)
            self._starting -= count

    # -- the record -------------------------------------------------------------------------------

    async def _masked_requests(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Records whose stored request text is masked again on the way out: for generations
        stored before requests were screened, or secrets saved since."""
        redact = await self.workers.run(self.redactor)
        for record in records:
            request = record.get("request")
            if isinstance(request, dict):
                record["request"] = {
                    k: redact(v) if k in SCREENED_FIELDS and isinstance(v, str) else v
                    for k, v in request.items()
                }
                if isinstance(request.get("inputs"), dict):
                    record["request"]["inputs"] = redact.obj(request["inputs"])
            record["recipe"] = _recipe_ref(record)
        return records

    async def get(self, gen_id: str) -> dict[str, Any]:
        [record] = await self._masked_requests([await self.store.get_generation(gen_id)])
        events = await self.store.events_of_types(gen_id, ("cell_validated", "cell_invalidated", "verified"))
        record["cells"] = replay_cells(events)
        # The latest fresh-kernel check, while it runs too (the stored provenance has the last).
        checks = [e["data"] for e in events if e.get("type") == "verified"]
        record["verification"] = checks[-1] if checks else None
        record["last_seq"] = await self.store.last_seq(gen_id)
        record["children"] = await self.store.children_of(gen_id)
        record["template"] = (record.get("request") or {}).get("template")
        record["cells_count"] = len(record["cells"])
        return record

    async def list(self) -> builtins.list[dict[str, Any]]:
        """The history, newest first: each with what its entry shows (repository, template,
        time, status, cells kept) and its parent."""
        records = await self._masked_requests(await self.store.list_generations())
        for record in records:
            record["template"] = (record.get("request") or {}).get("template")
            if record.get("cells_count") is None:  # running, or stored before it was counted
                record["cells_count"] = len(await self.validated_cells(record["id"]))
                if record["status"] != "running" and not self.is_running(record["id"]):
                    await self.store.update_generation(record["id"], cells_count=record["cells_count"])
        return records

    async def validated_cells(self, gen_id: str) -> builtins.list[dict[str, Any]]:
        """The notebook's cells as the events built them (replay.py: the same replay the front
        end does, so the download and the live notebook agree)."""
        return replay_cells(await self.store.events_of_types(gen_id, ("cell_validated", "cell_invalidated")))

    async def notebook(
        self, gen_id: str, *, outputs: str = "keep", thread: bool = False
    ) -> tuple[str, bytes]:
        """The generation's notebook (its validated cells) and its file name,
        `<repo>-<template>-<date>.ipynb`. Execution counts are always cleared, so cells inserted
        again do not carry the old run's; `outputs="clear"` drops the outputs too. `thread`: the
        whole thread's notebook, the follow-ups' cells in place of those they replace."""
        from .notebook import build_notebook, clean_cells, download_name, notebook_bytes

        if outputs not in ("keep", "clear"):
            raise BadRequest("outputs must be keep or clear.")
        [record] = await self._masked_requests([await self.store.get_generation(gen_id)])
        stored = record.get("provenance") or {}
        provenance = build_provenance(
            generation_id=gen_id,
            request=record["request"],
            repo=stored.get("repo"),
            model=stored.get("hf"),
            provider=record["provider"],
            model_name=record["model"],
            usage=record["usage"],
            status=record["status"],
            verification=stored.get("verification"),
            recipe=stored.get("recipe"),
            parent_id=record.get("parent_id"),
        )
        if thread:
            from .lineage import chain, thread_cells

            cells = await thread_cells(self.store, await chain(self.store, gen_id))
        else:
            cells = await self.validated_cells(gen_id)
        cells = clean_cells(cells, outputs=outputs)
        nb = build_notebook(cells, provenance=provenance)
        return download_name(record), notebook_bytes(nb)

    # -- the server's life ------------------------------------------------------------------------

    def mark_interrupted(self) -> builtins.list[str]:
        return self.store.sync.mark_interrupted(
            "The server stopped while this generation ran; its validated cells are kept."
        )

    async def shutdown(self) -> None:
        for gen_id, run in list(self._running.items()):
            run.cancel.set()
            run.task.cancel()
            await asyncio.gather(run.task, return_exceptions=True)
            await self.store.update_generation(
                gen_id, status="interrupted", message=_STOPPED, finished_at=time.time()
            )
        await self.events.flush()  # the last events (a `cancelled`) reach the store
