"""The Jupyter Server extension: configuration (traitlets) and the wiring of Cookbook's services."""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Float, Integer, List, Type, Unicode, default

from .services import Services, ServicesConfig, server_owner
from .store import Store


class CookbookApp(ExtensionApp):
    """Cookbook server extension. Every limit and endpoint below is configurable, e.g.
    `c.CookbookApp.db_url = "postgresql://..."` for a shared JupyterHub deployment."""

    name = "cookbook_ext"
    load_other_extensions = True

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

    # -- ingestion ------------------------------------------------------------------------------
    github_url = Unicode("https://github.com", config=True, help="GitHub (or GitHub Enterprise) web/git URL.")
    github_api_url = Unicode("https://api.github.com", config=True, help="GitHub REST API base URL.")
    allowed_hosts = List(
        Unicode(), default_value=["github.com"], config=True, help="Hosts accepted in a repository URL."
    )
    max_repo_mb = Float(500.0, config=True, help="Largest repository checkout accepted, in MB.")
    max_files = Integer(20000, config=True, help="Most files accepted in a repository.")
    clone_timeout = Float(120.0, config=True, help="Seconds a clone may take.")
    context_budget = Integer(24000, config=True, help="Token budget of the context pack.")

    # -- Hugging Face ---------------------------------------------------------------------------
    hf_endpoint = Unicode("", config=True, help="Hugging Face Hub endpoint (empty: the library's default).")
    hf_cache_ttl = Float(3600.0, config=True, help="Seconds model metadata stays fresh in the cache.")

    # -- generation -----------------------------------------------------------------------------
    default_provider = Unicode(
        "",
        config=True,
        help="anthropic, openai or offline. Empty: anthropic when a key is configured, else offline.",
    )
    allowed_providers = List(
        Unicode(),
        default_value=["anthropic", "openai", "offline"],
        config=True,
        help="Providers users may pick.",
    )
    provider_classes = Dict(
        default_value={
            "anthropic": "cookbook_ext.agent.providers.anthropic.AnthropicProvider",
            "openai": "cookbook_ext.agent.providers.openai.OpenAIProvider",
            "offline": "cookbook_ext.agent.providers.offline.OfflineProvider",
        },
        config=True,
        help="Provider implementations by name (dotted paths), to swap or add one.",
    )
    anthropic_model = Unicode("claude-sonnet-5-5", config=True, help="Default Anthropic model.")
    anthropic_base_url = Unicode("", config=True, help="Anthropic API base URL (empty: the SDK's default).")
    openai_model = Unicode("gpt-4o-mini", config=True, help="Default OpenAI-compatible model.")
    openai_base_url = Unicode("", config=True, help="OpenAI-compatible base URL (vLLM, Ollama, ...).")
    cell_timeout = Float(300.0, config=True, help="Seconds one cell may run before it is interrupted.")
    max_turns = Integer(40, config=True, help="Model turns per generation.")
    max_tokens = Integer(2_000_000, config=True, help="Tokens (in + out) per generation.")
    max_seconds = Float(1800.0, config=True, help="Wall time per generation, in seconds.")
    max_cost_usd = Float(5.0, config=True, help="Estimated cost per generation, in USD.")
    output_chars = Integer(4000, config=True, help="Characters of a cell's output sent back to the model.")
    max_prompt_chars = Integer(20000, config=True, help="Longest recipe prompt accepted.")
    approval_mode = Unicode(
        "risky",
        config=True,
        help="Ask before running a cell: never, risky (installs, shell, deletions, network) or always.",
    )
    admin_secrets = Dict(
        value_trait=Unicode(),
        default_value={},
        config=True,
        help="Keys the deployment provides (e.g. ANTHROPIC_API_KEY) when a user has stored none. "
        "Used server-side only: never listed, returned or sent to the model.",
    )
    mark_interrupted_on_start = Bool(True, config=True, help="Mark generations left running as interrupted.")

    def services_config(self) -> ServicesConfig:
        root_dir = Path(self.serverapp.root_dir if self.serverapp else os.getcwd()).resolve()
        return ServicesConfig(
            root_dir=root_dir,
            data_dir=Path(self.data_dir),
            db_url=self.db_url,
            github_url=self.github_url,
            github_api_url=self.github_api_url,
            allowed_hosts=tuple(self.allowed_hosts),
            max_repo_mb=self.max_repo_mb,
            max_files=self.max_files,
            clone_timeout=self.clone_timeout,
            context_budget=self.context_budget,
            hf_endpoint=self.hf_endpoint or None,
            hf_cache_ttl=self.hf_cache_ttl,
            default_provider=self.default_provider or None,
            allowed_providers=tuple(self.allowed_providers),
            provider_classes=dict(self.provider_classes),
            anthropic_model=self.anthropic_model,
            anthropic_base_url=self.anthropic_base_url or None,
            openai_model=self.openai_model,
            openai_base_url=self.openai_base_url or None,
            cell_timeout=self.cell_timeout,
            max_turns=self.max_turns,
            max_tokens=self.max_tokens,
            max_seconds=self.max_seconds,
            max_cost_usd=self.max_cost_usd,
            output_chars=self.output_chars,
            max_prompt_chars=self.max_prompt_chars,
            approval_mode=self.approval_mode,
            admin_secrets=dict(self.admin_secrets),
        )

    def initialize_settings(self) -> None:
        assert self.serverapp is not None  # set by the server before it initialises extensions
        config = self.services_config()
        store = self.store_class(self.db_url, owner=server_owner())
        self.services = Services(config, store, kernel_manager=self.serverapp.kernel_manager, log=self.log)
        if self.mark_interrupted_on_start:
            interrupted = self.services.mark_interrupted()
            if interrupted:
                self.log.warning("Cookbook: %d generation(s) were interrupted by a restart", len(interrupted))
        self.services.warm_up()
        self.settings["cookbook"] = self.services

    def initialize_handlers(self) -> None:
        from .routes import make_handlers

        self.handlers.extend(make_handlers())

    async def stop_extension(self) -> None:
        services: Services | None = getattr(self, "services", None)
        if services is not None:
            await services.shutdown()
