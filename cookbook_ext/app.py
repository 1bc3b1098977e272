"""The composition root: builds Cookbook's collaborators once, from one traitlets config, for the
server extension, the CLI and tests. Each collaborator owns its settings (`c.RepositoryManager.*`,
`c.GenerationRunner.*`, ...) and is made with `parent=` the app, so configuration lives in one
place; old `c.CookbookApp.*` names are forwarded (config_aliases.py)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from traitlets.config import Configurable

from .config_aliases import forward
from .repositories import RepositoryManager
from .secrets import SecretsManager
from .store import AsyncStore, Store, private_dir, server_owner
from .workers import Workers

if TYPE_CHECKING:
    from .agent.providers.registry import ProviderRegistry
    from .comparisons import ComparisonRunner
    from .hf_models import ModelMetadata
    from .recipes import RecipeRegistry
    from .runner import GenerationRunner


def default_classes() -> dict[str, type]:
    """The collaborators a deployment or a test can swap (CookbookApp's `*_class` traits)."""
    from .agent.providers.registry import ProviderRegistry
    from .comparisons import ComparisonRunner
    from .hf_models import ModelMetadata
    from .recipes import RecipeRegistry
    from .runner import GenerationRunner

    return {
        "secrets": SecretsManager,
        "repositories": RepositoryManager,
        "models": ModelMetadata,
        "providers": ProviderRegistry,
        "recipes": RecipeRegistry,
        "runner": GenerationRunner,
        "comparisons": ComparisonRunner,
    }


class Repositories:
    """What ingesting needs, and no more (`jupyter cookbook ingest` starts fast): the store, the
    secrets (for GITHUB_TOKEN) and the repository manager, built as the server builds them."""

    def __init__(
        self,
        parent: Configurable,
        *,
        root_dir: Path,
        data_dir: Path,
        db_url: str = "",
        store: Store | None = None,
        classes: dict[str, type] | None = None,
        log: logging.Logger | logging.LoggerAdapter[Any] | None = None,
    ) -> None:
        kinds = {"secrets": SecretsManager, "repositories": RepositoryManager, **(classes or {})}
        self.log = log or logging.getLogger("cookbook_ext")
        self.config = forward(parent.config, log=self.log)
        data_dir = Path(data_dir)
        # The store, the clones and the key are the user's alone: folders 0700, files 0600.
        for folder in (data_dir, data_dir / "cache", data_dir / "cache" / "clones"):
            private_dir(folder)
        self.data_dir = data_dir
        self.owner = server_owner()
        self.sync_store = store or Store(db_url or f"sqlite:///{data_dir / 'cookbook.db'}", owner=self.owner)
        self.store = AsyncStore(self.sync_store)
        self.workers = Workers()
        self._made: dict[str, Any] = {"parent": parent, "config": self.config, "log": self.log}
        self.secrets: SecretsManager = kinds["secrets"](
            store=self.sync_store, data_dir=data_dir, owner=self.owner, workers=self.workers, **self._made
        )
        self.repositories: RepositoryManager = kinds["repositories"](
            store=self.store,
            root_dir=root_dir,
            data_dir=data_dir,
            secret=self.secrets.resolve,
            workers=self.workers,
            **self._made,
        )

    def close(self) -> None:
        """Release the store without an event loop (the CLI's ingest, tests)."""
        self.workers.shutdown()
        self.store.close()


class Cookbook(Repositories):
    """Everything one server (or one CLI run) uses, built from `parent`'s config."""

    def __init__(
        self,
        parent: Configurable,
        *,
        root_dir: Path,
        data_dir: Path,
        db_url: str = "",
        store: Store | None = None,
        classes: dict[str, type] | None = None,
        kernel_manager: Any = None,
        log: logging.Logger | logging.LoggerAdapter[Any] | None = None,
    ) -> None:
        kinds = {**default_classes(), **(classes or {})}
        super().__init__(
            parent, root_dir=root_dir, data_dir=data_dir, db_url=db_url, store=store, classes=kinds, log=log
        )
        from .event_log import EventLog

        made = self._made
        self.models: ModelMetadata = kinds["models"](
            store=self.store, secret=self.secrets.resolve, workers=self.workers, **made
        )
        self.providers: ProviderRegistry = kinds["providers"](**made)
        # The user's recipe folder is <jupyter data dir>/cookbook/recipes (data_dir/recipes).
        self.recipes: RecipeRegistry = kinds["recipes"](data_dir=data_dir, workers=self.workers, **made)
        self.events = EventLog(self.store, log=self.log)
        self.runner: GenerationRunner = kinds["runner"](
            store=self.store,
            events=self.events,
            repositories=self.repositories,
            models=self.models,
            providers=self.providers,
            secrets=self.secrets,
            workers=self.workers,
            kernel_manager=kernel_manager,
            recipes=self.recipes,
            **made,
        )
        self.comparisons: ComparisonRunner = kinds["comparisons"](
            runner=self.runner, store=self.store, workers=self.workers, **made
        )
        self.kernel_manager = kernel_manager

    def warm_up(self) -> threading.Thread:
        """Start the warm-up thread (warmup.py) and return it."""
        from .warmup import warm_up

        return warm_up(
            providers=self.providers,
            secret=self.secrets.resolve,
            kernel_manager=self.kernel_manager,
            log=self.log,
        )

    async def shutdown(self) -> None:
        await self.runner.shutdown()
        await self.providers.aclose()
        self.close()
