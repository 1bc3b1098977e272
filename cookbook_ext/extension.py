"""The Jupyter Server extension: it only wires. Each collaborator (secrets, repositories, model
metadata, providers, the generation runner) owns its settings, is built once with `parent=self`,
and is stored in `settings` under its own key, so a handler takes only the one it needs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Type, Unicode, default

from .agent.providers.registry import ProviderRegistry
from .app import Cookbook
from .comparisons import ComparisonRunner
from .config_aliases import alias_traits
from .hf_models import ModelMetadata
from .recipes import RecipeRegistry
from .repositories import RepositoryManager
from .runner import GenerationRunner
from .secrets import SecretsManager
from .store import Store, server_owner


class CookbookApp(ExtensionApp):
    """Cookbook server extension, e.g. `c.CookbookApp.db_url = "postgresql://..."` for a shared
    JupyterHub deployment, `c.GenerationRunner.approval_floor = "risky"` for an admin floor."""

    name = "cookbook_ext"
    load_other_extensions = True
    classes = [
        SecretsManager,
        RepositoryManager,
        ModelMetadata,
        ProviderRegistry,
        RecipeRegistry,
        GenerationRunner,
    ]

    data_dir = Unicode(config=True, help="Folder for the store, repository clones and the secrets key.")

    @default("data_dir")
    def _default_data_dir(self) -> str:
        return str(Path(jupyter_data_dir()) / "cookbook")

    db_url = Unicode(config=True, help="SQLAlchemy database URL. Default: SQLite in data_dir.")

    @default("db_url")
    def _default_db_url(self) -> str:
        return f"sqlite:///{Path(self.data_dir) / 'cookbook.db'}"

    store_class = Type(
        default_value=Store, klass=Store, config=True, help="The store implementation (a dotted path)."
    )
    secrets_manager_class = Type(
        default_value=SecretsManager, klass=SecretsManager, config=True, help="Keeps the user's secrets."
    )
    repository_manager_class = Type(
        default_value=RepositoryManager,
        klass=RepositoryManager,
        config=True,
        help="Ingests and serves repositories.",
    )
    model_metadata_class = Type(
        default_value=ModelMetadata, klass=ModelMetadata, config=True, help="Hugging Face model metadata."
    )
    provider_registry_class = Type(
        default_value=ProviderRegistry,
        klass=ProviderRegistry,
        config=True,
        help="Finds the model providers (built-in and plug-ins).",
    )
    recipe_registry_class = Type(
        default_value=RecipeRegistry,
        klass=RecipeRegistry,
        config=True,
        help="Finds, reloads and renders recipes; installs catalogue packs.",
    )
    runner_class = Type(
        default_value=GenerationRunner, klass=GenerationRunner, config=True, help="Runs generations."
    )
    comparison_runner_class = Type(
        default_value=ComparisonRunner,
        klass=ComparisonRunner,
        config=True,
        help="Runs one recipe across several providers and models.",
    )
    mark_interrupted_on_start = Bool(True, config=True, help="Mark generations left running as interrupted.")

    # Settings that moved to the collaborator that uses them: still read here, with a warning.
    locals().update(alias_traits())

    def initialize_settings(self) -> None:
        assert self.serverapp is not None  # set by the server before it initialises extensions
        root_dir = Path(self.serverapp.root_dir if self.serverapp else os.getcwd()).resolve()
        self.cookbook = Cookbook(
            self,
            root_dir=root_dir,
            data_dir=Path(self.data_dir),
            store=self.store_class(self.db_url, owner=server_owner()),
            classes={
                "secrets": self.secrets_manager_class,
                "repositories": self.repository_manager_class,
                "models": self.model_metadata_class,
                "providers": self.provider_registry_class,
                "recipes": self.recipe_registry_class,
                "runner": self.runner_class,
                "comparisons": self.comparison_runner_class,
            },
            kernel_manager=self.serverapp.kernel_manager,
            log=self.log,
        )
        if self.mark_interrupted_on_start:
            interrupted = self.cookbook.runner.mark_interrupted()
            if interrupted:
                self.log.warning("Cookbook: %d generation(s) were interrupted by a restart", len(interrupted))
        self.cookbook.warm_up()
        self.settings.update(self.settings_for(self.cookbook))

    @staticmethod
    def settings_for(cookbook: Cookbook) -> dict[str, Any]:
        """What the handlers find in `settings`: one key per collaborator."""
        return {
            "cookbook": cookbook,
            "cookbook_owner": cookbook.owner,
            "cookbook_secrets": cookbook.secrets,
            "cookbook_repositories": cookbook.repositories,
            "cookbook_models": cookbook.models,
            "cookbook_providers": cookbook.providers,
            "cookbook_runner": cookbook.runner,
            "cookbook_events": cookbook.events,
            "cookbook_recipes": cookbook.recipes,
            "cookbook_comparisons": cookbook.comparisons,
        }

    def initialize_handlers(self) -> None:
        from .routes import make_handlers

        self.handlers.extend(make_handlers())

    async def stop_extension(self) -> None:
        cookbook: Cookbook | None = getattr(self, "cookbook", None)
        if cookbook is not None:
            await cookbook.shutdown()
