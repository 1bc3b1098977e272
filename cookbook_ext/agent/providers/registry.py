"""The model providers this server offers, found through entry points, and how to make one.

A provider is a `Provider` subclass that a package names in the `cookbook_ext.providers`
entry-point group (Cookbook's own three are declared there too); `provider_classes` replaces one
or adds one by dotted path. The registry owns the provider settings, says which providers may be
used and which are available, and makes them for generations, sharing one SDK client per key and
endpoint. A plug-in that fails to load is logged and reported in `status`, never a crash.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar

from traitlets import Dict, List, Unicode, observe
from traitlets.config import LoggingConfigurable

from ...errors import BadRequest, CookbookError
from .anthropic import DEFAULT_MODEL as ANTHROPIC_MODEL
from .base import Provider, ProviderError
from .openai import DEFAULT_MODEL as OPENAI_MODEL

ENTRY_POINT_GROUP = "cookbook_ext.providers"
# Whose entry points are the built-ins, and the order they are listed (and preferred) in, before
# every other package's: entry points carry no order of their own.
_OWN_DISTRIBUTION = "cookbook-ext"
BUILT_IN_ORDER = ("anthropic", "openai", "offline")

Secret = Callable[[str], str | None]


@dataclass(frozen=True)
class Plugin:
    """One provider as found: its class, or why it could not be loaded."""

    name: str
    source: str  # the entry point's "module:attr" or the configured dotted path
    provider_class: type[Provider] | None
    error: str | None = None


class ProviderRegistry(LoggingConfigurable):
    """Lists, describes and makes the providers; `c.ProviderRegistry.<trait>` configures it."""

    default_provider = Unicode(
        "",
        config=True,
        help="The provider a generation uses when it names none. Empty: anthropic when a key is "
        "configured, then openai, else offline.",
    )
    allowed_providers = List(
        Unicode(),
        default_value=None,
        allow_none=True,
        config=True,
        help="Providers users may pick. None: every installed provider.",
    )
    provider_classes = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        default_value={},
        config=True,
        help="Provider implementations by name (dotted paths, or module:attr), to swap or add one. "
        "They take precedence over the providers installed packages declare in the "
        f"{ENTRY_POINT_GROUP!r} entry-point group.",
    )
    provider_options = Dict(
        key_trait=Unicode(),
        value_trait=Dict(),
        default_value={},
        config=True,
        help="Options by provider name, passed to its `create` (for the built-in anthropic and "
        "openai providers: constructor keywords such as max_tokens, timeout, max_retries). They "
        "take precedence over the *_model and *_base_url settings.",
    )
    anthropic_model = Unicode(ANTHROPIC_MODEL, config=True, help="Default Anthropic model.")
    anthropic_base_url = Unicode("", config=True, help="Anthropic API base URL (empty: the SDK's default).")
    openai_model = Unicode(OPENAI_MODEL, config=True, help="Default OpenAI-compatible model.")
    openai_base_url = Unicode("", config=True, help="OpenAI-compatible base URL (vLLM, Ollama, ...).")

    # Entry points are read once per process, as jupyter-ai's persona manager does: loading a
    # plug-in imports its module. `refresh` reads them again.
    _discovered: ClassVar[list[Plugin] | None] = None
    _discovery_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._known: dict[str, Plugin] | None = None
        self._known_from: list[Plugin] | None = None
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._clients_lock = threading.Lock()

    @observe("provider_classes")
    def _provider_classes_changed(self, _change: Any) -> None:
        self._known = None

    @classmethod
    def refresh(cls) -> None:
        """Read the entry points again on next use (a plug-in installed since the start)."""
        with cls._discovery_lock:
            cls._discovered = None

    # -- what there is ------------------------------------------------------------------------

    def names(self) -> list[str]:
        """The providers users may pick, built-ins first (those that failed to load are left out)."""
        return [
            name
            for name, plugin in self._plugins().items()
            if plugin.provider_class is not None and self._allowed(name)
        ]

    def provider_class(self, name: str) -> type[Provider]:
        """The class behind `name`; BadRequest, listing the choices, when it may not be used."""
        plugin = self._plugins().get(name)
        choices = self.names()
        listed = ", ".join(choices) or "(none: no provider is installed)"
        if plugin is None or not self._allowed(name):
            raise BadRequest(
                f"Unknown or disallowed provider {name!r}; choose one of {listed}.",
                details={"provider": name, "choices": choices},
            )
        if plugin.provider_class is None:
            raise BadRequest(
                f"The provider {name!r} could not be loaded ({plugin.error}); choose one of {listed}.",
                details={"provider": name, "choices": choices},
            )
        return plugin.provider_class

    def key_name(self, name: str) -> str | None:
        """The secret `name` needs, or None."""
        return self.provider_class(name).key_name

    def key_names(self) -> set[str]:
        """Every secret a known provider class declares, allowed or not, overridden or not: the
        names whose values are provider keys (to look up, and to mask)."""
        classes = [p.provider_class for p in [*self._discover(), *self._plugins().values()]]
        return {cls.key_name for cls in classes if cls is not None and cls.key_name}

    def options(self, name: str) -> dict[str, Any]:
        """What `name`'s `create` is configured with: `model` and `base_url` from the named
        settings (anthropic_model, openai_base_url, ...), then `provider_options[name]`."""
        named = {
            "anthropic": (self.anthropic_model, self.anthropic_base_url),
            "openai": (self.openai_model, self.openai_base_url),
        }
        model, base_url = named.get(name, ("", ""))
        options: dict[str, Any] = {}
        if model:
            options["model"] = model
        if base_url:
            options["base_url"] = base_url
        options.update(self.provider_options.get(name) or {})
        return options

    # -- what can be used ---------------------------------------------------------------------

    def status(self, secret: Secret) -> dict[str, Any]:
        """Each allowed provider as the panel shows it, and the default. `secret(key_name)` reads
        a stored or deployment-provided secret (blocking, for a worker thread)."""
        key = _memo(secret)
        providers: list[dict[str, Any]] = []
        for name, plugin in self._plugins().items():
            if self._allowed(name):
                providers.append(self._describe(name, plugin, key))
        for name in self.allowed_providers or ():
            if name not in self._plugins():
                providers.append(_broken(name, f"No provider named {name!r} is installed."))
        return {"providers": providers, "default_provider": self._default(key)}

    def default(self, secret: Secret) -> str:
        """The provider a generation without one uses: `default_provider`, else the first with a
        key configured (anthropic, then openai, then plug-ins), else the first that needs none."""
        return self._default(_memo(secret))

    def in_use(self, secret: Secret) -> list[str]:
        """The providers a generation could use now (available, or the configured default):
        what warm-up should prepare. All of them when the secrets cannot be read."""
        key = _memo(secret)
        try:
            for key_name in self.key_names():
                key(key_name)
        except Exception:
            self.log.debug("Cookbook could not read the provider keys; warming every provider up")
            return self.names()
        used = []
        for name in self.names():
            cls = self.provider_class(name)
            api_key = key(cls.key_name) if cls.key_name else None
            if name == self.default_provider or _is_available(cls, api_key, self.options(name)):
                used.append(name)
        return used

    # -- making one ---------------------------------------------------------------------------

    def make(self, name: str, *, secret: Secret, model: str | None) -> Provider:
        """A provider for one generation (blocking: reads secrets, may import an SDK). The
        caller closes it; its shared client stays open until `aclose`."""
        cls = self.provider_class(name)
        options = self.options(name)
        api_key = secret(cls.key_name) if cls.key_name else None
        if not cls.available(api_key, options):
            raise BadRequest(cls.missing_key_message(), details={"provider": name, "key_name": cls.key_name})
        configured_model = options.pop("model", None)
        client = self._shared_client(cls, api_key, options.get("base_url"))
        try:
            return cls.create(
                api_key=api_key, model=model or configured_model, options=options, client=client
            )
        except CookbookError:
            raise
        except ProviderError as exc:
            raise BadRequest(exc.message, details={"provider": name}) from exc
        except Exception as exc:
            self.log.exception("Cookbook could not set up the %s provider", name)
            raise CookbookError(
                f"The {name} provider could not be set up: {type(exc).__name__}: {exc}",
                code="provider_failed",
            ) from exc

    async def aclose(self) -> None:
        """Close the shared clients (at server stop)."""
        with self._clients_lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            try:
                await client.close()
            except Exception:
                self.log.debug("closing a model client failed", exc_info=True)

    # -- internals ----------------------------------------------------------------------------

    def _allowed(self, name: str) -> bool:
        return self.allowed_providers is None or name in self.allowed_providers

    def _plugins(self) -> dict[str, Plugin]:
        """Every provider known, by name, built-ins first: the entry points, then
        `provider_classes` over them (a replacement keeps its place)."""
        discovered = self._discover()
        if self._known is None or self._known_from is not discovered:
            known = {plugin.name: plugin for plugin in discovered}
            for name, path in self.provider_classes.items():
                known[name] = self._load(name, path, functools.partial(_import_object, path))
            self._known, self._known_from = known, discovered
        return self._known

    def _discover(self) -> list[Plugin]:
        with ProviderRegistry._discovery_lock:
            if ProviderRegistry._discovered is None:
                ProviderRegistry._discovered = self._read_entry_points()
            return ProviderRegistry._discovered

    def _read_entry_points(self) -> list[Plugin]:
        found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=_built_ins_first)
        plugins: dict[str, Plugin] = {}
        for ep in found:
            if ep.name in plugins:
                self.log.warning(
                    "Cookbook: two packages declare the provider %r (%s and %s); using %s",
                    ep.name,
                    plugins[ep.name].source,
                    ep.value,
                    plugins[ep.name].source,
                )
                continue
            plugins[ep.name] = self._load(ep.name, ep.value, ep.load)
        if not plugins:
            self.log.error(
                "Cookbook found no model providers in the %r entry-point group: is the package "
                "installed (pip install -e . refreshes an editable install)?",
                ENTRY_POINT_GROUP,
            )
        return list(plugins.values())

    def _load(self, name: str, source: str, load: Callable[[], Any]) -> Plugin:
        try:
            obj = load()
        except Exception as exc:
            self.log.exception("Cookbook could not load the provider %r from %s", name, source)
            return Plugin(name, source, None, f"{type(exc).__name__}: {exc}")
        if not (isinstance(obj, type) and issubclass(obj, Provider)):
            self.log.error("Cookbook: the provider %r (%s) is not a Provider class", name, source)
            return Plugin(name, source, None, f"{source} is not a cookbook_ext Provider class")
        return Plugin(name, source, obj)

    def _describe(self, name: str, plugin: Plugin, key: Secret) -> dict[str, Any]:
        cls = plugin.provider_class
        if cls is None:
            return _broken(name, plugin.error or "It could not be loaded.")
        options = self.options(name)
        api_key = key(cls.key_name) if cls.key_name else None
        entry: dict[str, Any] = {
            "name": name,
            "display_name": cls.display_name or name,
            "available": False,
            "configured": cls.key_name is None or bool(api_key),
            "default_model": options.get("model") or cls.default_model,
            "uses_model": bool(getattr(cls, "uses_model", True)),
        }
        try:
            entry["available"] = bool(cls.available(api_key, options))
        except Exception as exc:  # a plug-in's bug is its own row's error, not the page's
            self.log.exception("Cookbook: the %s provider's available() failed", name)
            entry["error"] = f"{type(exc).__name__}: {exc}"
        return entry

    def _default(self, key: Secret) -> str:
        if self.default_provider:
            return self.default_provider
        classes = [(name, self.provider_class(name)) for name in self.names()]
        for name, cls in classes:
            if cls.key_name and key(cls.key_name):
                return name
        for name, cls in classes:
            if cls.key_name is None:
                return name
        return "offline"

    def _shared_client(self, cls: type[Provider], api_key: str | None, base_url: str | None) -> Any:
        """One client (connection pool, TLS context) per provider class, key and endpoint."""
        cache_key = (cls, hashlib.sha256((api_key or "").encode()).hexdigest(), base_url)
        with self._clients_lock:
            client = self._clients.get(cache_key)
            if client is None:
                client = cls.make_client(api_key, base_url)
                if client is not None:
                    self._clients[cache_key] = client
            return client


def _is_available(cls: type[Provider], api_key: str | None, options: dict[str, Any]) -> bool:
    try:
        return bool(cls.available(api_key, options))
    except Exception:
        return False


def _broken(name: str, error: str) -> dict[str, Any]:
    return {
        "name": name,
        "display_name": name,
        "available": False,
        "configured": False,
        "default_model": None,
        "error": error,
    }


def _memo(secret: Secret) -> Secret:
    """`secret`, asked at most once per name (one status reads each key once)."""
    seen: dict[str, str | None] = {}

    def lookup(name: str) -> str | None:
        if name not in seen:
            seen[name] = secret(name)
        return seen[name]

    return lookup


def _built_ins_first(ep: EntryPoint) -> tuple[bool, int, str]:
    """Cookbook's own entry points first (in BUILT_IN_ORDER), then every other package's by name."""
    dist = getattr(ep, "dist", None)
    own = dist is not None and re.sub(r"[-_.]+", "-", dist.name).lower() == _OWN_DISTRIBUTION
    rank = BUILT_IN_ORDER.index(ep.name) if own and ep.name in BUILT_IN_ORDER else len(BUILT_IN_ORDER)
    return (not own, rank, ep.name)


def _import_object(path: str) -> Any:
    module, sep, attr = path.partition(":")
    if not sep:
        module, _, attr = path.rpartition(".")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj
