"""Shared pytest setup: a real Jupyter server with Cookbook enabled and its data in a temp dir."""

import os

import pytest

from tests.fakes.kernels import NO_PACKAGE_INDEX

pytest_plugins = ("pytest_jupyter.jupyter_server",)

# Tests never reach the internet: make the Hugging Face library refuse its default endpoint.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# ... nor a package index: every kernel (started by the in-process servers' kernel managers, by
# tests/fakes/kernels.py, by subprocess servers) inherits this, so a `%pip install` of a missing
# package fails at once instead of downloading. Test repositories require installed packages only.
os.environ.update(NO_PACKAGE_INDEX)
os.environ.pop("PIP_EXTRA_INDEX_URL", None)
for _var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "HF_TOKEN", "GITHUB_TOKEN"):
    os.environ.pop(_var, None)


@pytest.fixture
def cookbook_config():
    """Per-test overrides of CookbookApp traits (tests update this dict before the server starts)."""
    return {}


@pytest.fixture
def jp_server_config(tmp_path, cookbook_config):
    config = {
        "ServerApp": {
            "jpserver_extensions": {"cookbook_ext": True},
            "allow_unauthenticated_access": False,
        },
        # Approval prompts need a person; tests that exercise them set approval_mode themselves.
        "CookbookApp": {
            "data_dir": str(tmp_path / "cookbook-data"),
            "approval_mode": "never",
            # The built-in providers: a plug-in installed into the test environment
            # (tests/plugin_provider) shows up only where a test allows it.
            "allowed_providers": ["anthropic", "openai", "offline"],
            **cookbook_config,
        },
    }
    return config
