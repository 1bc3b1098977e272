"""Settings that moved from `c.CookbookApp` to the collaborator that uses them. The old names keep
working (with a deprecation warning) for the server and the CLI alike."""

from __future__ import annotations

import copy
import logging
from typing import Any

from traitlets import Any as AnyTrait
from traitlets.config import Config

# old c.CookbookApp name -> the class that owns the setting now (same name there)
MOVED: dict[str, str] = {
    **dict.fromkeys(
        (
            "github_url",
            "github_api_url",
            "allowed_hosts",
            "max_repo_mb",
            "max_files",
            "clone_timeout",
            "context_budget",
        ),
        "RepositoryManager",
    ),
    **dict.fromkeys(("hf_endpoint", "hf_cache_ttl"), "ModelMetadata"),
    **dict.fromkeys(
        (
            "default_provider",
            "allowed_providers",
            "provider_classes",
            "anthropic_model",
            "anthropic_base_url",
            "openai_model",
            "openai_base_url",
        ),
        "ProviderRegistry",
    ),
    **dict.fromkeys(
        (
            "cell_timeout",
            "max_turns",
            "max_tokens",
            "max_seconds",
            "max_cost_usd",
            "output_chars",
            "max_prompt_chars",
            "approval_mode",
            "approval_floor",
            "max_running_generations",
            "verify",
        ),
        "GenerationRunner",
    ),
    "admin_secrets": "SecretsManager",
    **dict.fromkeys(("recipe_paths", "catalog_urls", "allowed_catalogs"), "RecipeRegistry"),
}


def alias_traits() -> dict[str, Any]:
    """Traits for the old names on an app class, so config files naming them are recognised."""
    return {
        name: AnyTrait(None, allow_none=True, config=True, help=f"Deprecated: use c.{owner}.{name}.")
        for name, owner in MOVED.items()
    }


def forward(config: Config, *, section: str = "CookbookApp", log: logging.Logger | Any = None) -> Config:
    """`config` with each old `c.<section>.<name>` copied to its new home, unless that is set."""
    out = copy.deepcopy(config)
    old = config.get(section, {})
    for name, owner in MOVED.items():
        if name not in old:
            continue
        target = out[owner]
        if name not in target:
            target[name] = old[name]
            if log is not None:
                log.warning("c.%s.%s is deprecated: use c.%s.%s", section, name, owner, name)
    return out
