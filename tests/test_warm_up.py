"""Start-up warm-up: one-off costs paid in a thread, not by the first generation on the loop."""

from __future__ import annotations

import sys

from traitlets.config import Config, LoggingConfigurable

from cookbook_ext.agent.providers.anthropic import AnthropicProvider
from cookbook_ext.agent.providers.openai import OpenAIProvider
from cookbook_ext.app import Cookbook
from cookbook_ext.warmup import THREAD_NAME


def cookbook(tmp_path, config=None):
    return Cookbook(
        LoggingConfigurable(config=config or Config()), root_dir=tmp_path, data_dir=tmp_path / "data"
    )


def test_warm_up_imports_only_the_providers_that_can_be_used(tmp_path, monkeypatch):
    # The built-in providers only (a plug-in installed in the test environment needs no key).
    config = Config({"ProviderRegistry": {"allowed_providers": ["anthropic", "openai", "offline"]}})
    svc = cookbook(tmp_path, config)
    try:
        in_use = lambda: svc.providers.in_use(svc.secrets.resolve)  # noqa: E731
        assert in_use() == ["offline"]
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-" + "k" * 30)
        assert in_use() == ["anthropic", "offline"]
        svc.providers.openai_base_url = "http://127.0.0.1:1/v1"
        assert in_use() == ["anthropic", "openai", "offline"]
    finally:
        svc.close()


def test_the_sdk_providers_parse_a_canned_response_to_warm_up():
    AnthropicProvider.warm_up()
    OpenAIProvider.warm_up()


def test_warm_up_runs_in_a_thread_and_loads_what_the_first_generation_needs(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-" + "k" * 30)
    svc = cookbook(tmp_path)
    try:
        # The thread it returns (looking it up by name raced a warm-up that had already ended).
        thread = svc.warm_up()
        assert thread.name == THREAD_NAME and thread.daemon
        thread.join(120)
        assert not thread.is_alive()
        for module in ("cookbook_ext.agent.loop", "cookbook_ext.kernel", "anyio._backends._asyncio"):
            assert module in sys.modules, module
    finally:
        svc.close()
