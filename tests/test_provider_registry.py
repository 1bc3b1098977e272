"""The provider registry: providers found through entry points, listed, described and made."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from importlib.metadata import entry_points
from typing import Any

import pytest

from cookbook_ext.agent.providers.anthropic import AnthropicProvider
from cookbook_ext.agent.providers.base import Provider, SystemPrompt, ToolSpec
from cookbook_ext.agent.providers.offline import OfflineProvider
from cookbook_ext.agent.providers.openai import LOCAL_API_KEY, OpenAIProvider
from cookbook_ext.agent.providers.registry import ENTRY_POINT_GROUP, ProviderRegistry
from cookbook_ext.errors import BadRequest, CookbookError
from tests.fakes import FakeAnthropic, FakeOpenAI, text_reply

BUILT_INS = ["anthropic", "openai", "offline"]
ANTHROPIC_KEY = "sk-ant-test-" + "a" * 30
OPENAI_KEY = "sk-test-" + "o" * 30
SYSTEM = SystemPrompt(instructions="You write notebooks.")
TOOLS = [ToolSpec("finish", "End.", {"type": "object", "properties": {"summary": {"type": "string"}}})]
ASK = [{"role": "user", "content": [{"type": "text", "text": "Say hi."}]}]
PLUGIN_HINT = "the echo plug-in is not installed: python -m pip install ./tests/plugin_provider"


def secrets(**values: str):
    """A `secret` lookup over fixed values."""
    return lambda name: values.get(name)


NO_SECRETS = secrets()


def only_built_ins(**config: Any) -> ProviderRegistry:
    """A registry that ignores other installed plug-ins (the echo test plug-in among them)."""
    return ProviderRegistry(allowed_providers=list(BUILT_INS), **config)


async def ask(provider: Provider):
    return await provider.next_turn(system=SYSTEM, messages=ASK, tools=TOOLS, cancel=asyncio.Event())


class FakeClient:
    def __init__(self, key: str | None, base_url: str | None) -> None:
        self.key, self.base_url, self.closed = key, base_url, False

    async def close(self) -> None:
        self.closed = True


class CountingProvider(Provider):
    """Needs COUNTING_KEY; keeps the shared client it was made with."""

    name = "counting"
    key_name = "COUNTING_KEY"
    made: list[FakeClient] = []

    def __init__(self, client: Any) -> None:
        self.client = client

    @classmethod
    def make_client(cls, api_key: str | None, base_url: str | None = None) -> FakeClient:
        client = FakeClient(api_key, base_url)
        cls.made.append(client)
        return client

    @classmethod
    def create(cls, *, api_key, model, options, client) -> Provider:
        return cls(client)

    async def next_turn(self, **_: Any):
        raise NotImplementedError


class PickyProvider(OfflineProvider):
    """Takes no options at all."""

    @classmethod
    def create(cls, *, api_key, model, options, client) -> Provider:
        return cls(**options)

    def __init__(self) -> None:
        super().__init__()


@pytest.fixture
def broken_plugins(tmp_path):
    """An installed distribution whose provider entry points are broken: one names a module that
    does not exist, one an object that is not a Provider, one takes a built-in's name."""
    site = tmp_path / "site"
    dist = site / "cookbook_broken_plugins-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cookbook-broken-plugins\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n"
        "broken = cookbook_no_such_module:Provider\n"
        "not-a-provider = json:dumps\n"
        "anthropic = json:loads\n"
    )
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    ProviderRegistry.refresh()
    yield
    sys.path.remove(str(site))
    importlib.invalidate_caches()
    ProviderRegistry.refresh()


# -- discovery -------------------------------------------------------------------------------


def test_the_built_in_providers_are_declared_as_entry_points():
    declared = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert declared["anthropic"] == "cookbook_ext.agent.providers.anthropic:AnthropicProvider"
    assert declared["openai"] == "cookbook_ext.agent.providers.openai:OpenAIProvider"
    assert declared["offline"] == "cookbook_ext.agent.providers.offline:OfflineProvider"


def test_the_built_ins_are_listed_first_in_a_stable_order():
    registry = ProviderRegistry()
    assert registry.names()[:3] == BUILT_INS
    assert registry.provider_class("anthropic") is AnthropicProvider
    assert registry.provider_class("openai") is OpenAIProvider
    assert registry.provider_class("offline") is OfflineProvider


def test_an_installed_plug_in_is_listed_after_the_built_ins():
    registry = ProviderRegistry()
    assert "echo" in registry.names(), PLUGIN_HINT
    assert registry.names().index("echo") > 2
    [row] = [p for p in registry.status(NO_SECRETS)["providers"] if p["name"] == "echo"]
    assert row == {
        "name": "echo",
        "display_name": "Echo (test plug-in)",
        "available": True,
        "configured": True,
        "default_model": "echo-1",
        "uses_model": True,  # issue 12: the panel shows tokens and cost for it
    }


def test_a_plug_in_is_made_with_its_options_and_plays_its_script():
    registry = ProviderRegistry(provider_options={"echo": {"greeting": "hello"}})
    assert "echo" in registry.names(), PLUGIN_HINT
    provider = registry.make("echo", secret=NO_SECRETS, model=None)
    turn = asyncio.run(ask(provider))
    [call] = turn.tool_calls
    assert (provider.model, call.name, call.arguments) == (
        "echo-1",
        "create_cell",
        {"code": "print('hello')", "type": "code"},
    )


def test_a_broken_plug_in_is_reported_and_the_rest_still_work(broken_plugins, caplog):
    registry = ProviderRegistry(log=logging.getLogger("cookbook-test-registry"))
    with caplog.at_level(logging.WARNING, logger="cookbook-test-registry"):
        names = registry.names()
    assert names[:3] == BUILT_INS and "broken" not in names and "not-a-provider" not in names
    assert registry.provider_class("anthropic") is AnthropicProvider  # the built-in keeps its name
    rows = {p["name"]: p for p in registry.status(NO_SECRETS)["providers"]}
    assert rows["broken"]["available"] is False
    assert "cookbook_no_such_module" in rows["broken"]["error"]
    assert "not a cookbook_ext Provider" in rows["not-a-provider"]["error"]
    assert rows["offline"]["available"] is True
    logged = caplog.text
    assert "'broken'" in logged and "'not-a-provider'" in logged and "two packages declare" in logged
    with pytest.raises(BadRequest, match="could not be loaded"):
        registry.provider_class("broken")


def test_a_configured_class_that_cannot_be_imported_is_reported_not_fatal():
    registry = ProviderRegistry(provider_classes={"gone": "cookbook_no_such_module.Provider"})
    assert "gone" not in registry.names()
    [row] = [p for p in registry.status(NO_SECRETS)["providers"] if p["name"] == "gone"]
    assert row["available"] is False and "cookbook_no_such_module" in row["error"]
    with pytest.raises(BadRequest):
        registry.make("gone", secret=NO_SECRETS, model=None)


def test_a_configured_class_replaces_a_built_in_in_its_place():
    registry = ProviderRegistry(provider_classes={"offline": f"{__name__}.PickyProvider"})
    assert registry.names()[:3] == BUILT_INS
    assert isinstance(registry.make("offline", secret=NO_SECRETS, model=None), PickyProvider)


# -- what may be used ------------------------------------------------------------------------


def test_an_unknown_provider_is_refused_with_the_choices():
    registry = ProviderRegistry()
    with pytest.raises(BadRequest) as info:
        registry.provider_class("nope")
    assert info.value.message.startswith("Unknown or disallowed provider 'nope'; choose one of ")
    assert "anthropic, openai, offline" in info.value.message
    assert info.value.details["choices"] == registry.names()


def test_a_disallowed_provider_is_neither_listed_nor_made():
    registry = ProviderRegistry(allowed_providers=["offline"])
    assert registry.names() == ["offline"]
    assert [p["name"] for p in registry.status(secrets(ANTHROPIC_API_KEY=ANTHROPIC_KEY))["providers"]] == [
        "offline"
    ]
    with pytest.raises(BadRequest) as info:
        registry.make("anthropic", secret=secrets(ANTHROPIC_API_KEY=ANTHROPIC_KEY), model=None)
    assert info.value.message == "Unknown or disallowed provider 'anthropic'; choose one of offline."


def test_an_allowed_provider_that_is_not_installed_is_reported():
    registry = ProviderRegistry(allowed_providers=["offline", "vllm"])
    assert registry.names() == ["offline"]
    rows = registry.status(NO_SECRETS)["providers"]
    assert [p["name"] for p in rows] == ["offline", "vllm"]
    assert rows[1]["available"] is False and "No provider named 'vllm'" in rows[1]["error"]


def test_status_says_which_providers_have_a_key_and_their_models():
    registry = only_built_ins(anthropic_model="claude-haiku-5-5")
    status = registry.status(secrets(ANTHROPIC_API_KEY=ANTHROPIC_KEY))
    assert status == {
        "providers": [
            {
                "name": "anthropic",
                "display_name": "Anthropic",
                "available": True,
                "configured": True,
                "default_model": "claude-haiku-5-5",
                "uses_model": True,
            },
            {
                "name": "openai",
                "display_name": "OpenAI-compatible",
                "available": False,
                "configured": False,
                "default_model": "gpt-4o-mini",
                "uses_model": True,
            },
            {
                "name": "offline",
                "display_name": "Offline (the repository's own examples)",
                "available": True,
                "configured": True,
                "default_model": None,
                "uses_model": False,
            },
        ],
        "default_provider": "anthropic",
    }


@pytest.mark.parametrize(
    ("keys", "configured", "default"),
    [
        ({}, "", "offline"),
        ({"OPENAI_API_KEY": OPENAI_KEY}, "", "openai"),
        ({"OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY}, "", "anthropic"),
        ({"ANTHROPIC_API_KEY": ANTHROPIC_KEY}, "openai", "openai"),
    ],
)
def test_the_default_is_the_configured_one_else_the_first_with_a_key_else_offline(keys, configured, default):
    registry = ProviderRegistry(default_provider=configured)
    assert registry.default(secrets(**keys)) == default
    assert registry.status(secrets(**keys))["default_provider"] == default


def test_a_disallowed_provider_is_never_the_default():
    registry = ProviderRegistry(allowed_providers=["openai", "offline"])
    assert registry.default(secrets(ANTHROPIC_API_KEY=ANTHROPIC_KEY)) == "offline"


def test_in_use_is_what_has_a_key_an_endpoint_or_is_the_default():
    assert only_built_ins().in_use(NO_SECRETS) == ["offline"]
    assert only_built_ins().in_use(secrets(ANTHROPIC_API_KEY=ANTHROPIC_KEY)) == ["anthropic", "offline"]
    local = only_built_ins(openai_base_url="http://127.0.0.1:1/v1")
    assert local.in_use(secrets(ANTHROPIC_API_KEY=ANTHROPIC_KEY)) == BUILT_INS
    assert only_built_ins(default_provider="openai").in_use(NO_SECRETS) == ["openai", "offline"]


def test_in_use_is_everything_when_the_secrets_cannot_be_read():
    def unreadable(name: str) -> str | None:
        raise RuntimeError("the store is locked")

    assert only_built_ins().in_use(unreadable) == BUILT_INS


def test_key_names_are_the_secrets_providers_declare():
    registry = ProviderRegistry(provider_classes={"counting": f"{__name__}.CountingProvider"})
    assert registry.key_names() >= {"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "COUNTING_KEY"}
    assert registry.key_name("anthropic") == "ANTHROPIC_API_KEY"
    assert registry.key_name("offline") is None


# -- making one ------------------------------------------------------------------------------


def test_a_missing_anthropic_key_is_refused_with_what_to_do():
    with pytest.raises(BadRequest) as info:
        ProviderRegistry().make("anthropic", secret=NO_SECRETS, model=None)
    assert info.value.message == (
        "No Anthropic API key is configured: add ANTHROPIC_API_KEY in Cookbook's secrets, "
        "or choose the offline provider."
    )


def test_a_missing_openai_key_is_refused_with_what_to_do():
    with pytest.raises(BadRequest) as info:
        ProviderRegistry().make("openai", secret=NO_SECRETS, model=None)
    assert info.value.message == (
        "No OpenAI API key is configured: add OPENAI_API_KEY in Cookbook's secrets, "
        "or configure a local OpenAI-compatible endpoint."
    )


def test_a_local_openai_compatible_server_needs_no_key():
    with FakeOpenAI([text_reply("hi")]) as fake:
        registry = ProviderRegistry(openai_base_url=fake.base_url)
        [row] = [p for p in registry.status(NO_SECRETS)["providers"] if p["name"] == "openai"]
        assert (row["available"], row["configured"]) == (True, False)

        async def run():
            turn = await ask(registry.make("openai", secret=NO_SECRETS, model=None))
            await registry.aclose()
            return turn

        assert asyncio.run(run()).text == "hi"
        request = fake.requests[0]
    assert request.headers["authorization"] == f"Bearer {LOCAL_API_KEY}"
    assert request.body["model"] == "gpt-4o-mini"


def test_the_requested_model_wins_over_the_configured_one():
    with FakeAnthropic([text_reply("hi")]) as fake:
        registry = ProviderRegistry(anthropic_base_url=fake.base_url, anthropic_model="claude-opus-5")
        provider = registry.make("anthropic", secret=secrets(ANTHROPIC_API_KEY=ANTHROPIC_KEY), model="x-1")
        asyncio.run(ask(provider))
        asyncio.run(registry.aclose())
        assert fake.requests[0].body["model"] == "x-1"


def test_provider_options_reach_the_providers_constructor():
    with FakeOpenAI([text_reply("hi")]) as fake:
        options = {"openai": {"base_url": fake.base_url, "max_tokens": 77, "timeout": 5}}
        registry = ProviderRegistry(provider_options=options)

        async def run():
            await ask(registry.make("openai", secret=secrets(OPENAI_API_KEY=OPENAI_KEY), model="m"))
            await registry.aclose()

        asyncio.run(run())
        assert fake.requests[0].body["max_tokens"] == 77


def test_a_plug_in_that_cannot_be_set_up_names_itself():
    registry = ProviderRegistry(
        provider_classes={"picky": f"{__name__}.PickyProvider"}, provider_options={"picky": {"bogus": 1}}
    )
    with pytest.raises(CookbookError) as info:
        registry.make("picky", secret=NO_SECRETS, model=None)
    assert info.value.code == "provider_failed"
    assert "The picky provider could not be set up" in info.value.message


def test_providers_with_the_same_key_and_endpoint_share_one_client_until_aclose():
    CountingProvider.made = []
    registry = ProviderRegistry(provider_classes={"counting": f"{__name__}.CountingProvider"})

    def make(key: str) -> Any:
        return registry.make("counting", secret=secrets(COUNTING_KEY=key), model=None).client

    first, again, other = make("key-1"), make("key-1"), make("key-2")
    assert first is again and first is not other
    assert CountingProvider.made == [first, other]
    asyncio.run(registry.aclose())
    assert first.closed and other.closed
    assert make("key-1") is not first  # a new client after aclose


def test_closing_one_generations_provider_leaves_the_shared_client_to_the_next():
    with FakeAnthropic([text_reply("one"), text_reply("two")]) as fake:
        registry = ProviderRegistry(anthropic_base_url=fake.base_url)
        key = secrets(ANTHROPIC_API_KEY=ANTHROPIC_KEY)

        async def run():
            first = registry.make("anthropic", secret=key, model=None)
            one = await ask(first)
            await first.aclose()
            two = await ask(registry.make("anthropic", secret=key, model=None))
            await registry.aclose()
            return one.text, two.text

        assert asyncio.run(run()) == ("one", "two")
