"""Hugging Face model metadata for the panel and the engine: search and one model's card, with
answers cached in the store and the local Hugging Face cache to fall back on (see huggingface.py
for the client)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from traitlets import Float, Unicode
from traitlets.config import LoggingConfigurable

from .store import AsyncStore, Store
from .workers import Workers


class ModelMetadata(LoggingConfigurable):
    hf_endpoint = Unicode("", config=True, help="Hugging Face Hub endpoint (empty: the library's default).")
    hf_cache_ttl = Float(3600.0, config=True, help="Seconds model metadata stays fresh in the cache.")
    hf_cache_dir = Unicode(
        "",
        config=True,
        help="The local Hugging Face cache that model metadata (card, config, revision) falls back on "
        "when the Hub is unreachable or HF_HUB_OFFLINE is set (empty: huggingface_hub's own, from "
        "HF_HUB_CACHE or HF_HOME).",
    )

    def __init__(
        self, *, store: AsyncStore, secret: Callable[[str], str | None], workers: Workers, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.store = store
        self._secret = secret  # resolves HF_TOKEN
        self._workers = workers

    def client(self) -> Any:
        from .huggingface import HubClient

        return HubClient(
            endpoint=self.hf_endpoint or None,
            token=self._secret("HF_TOKEN"),
            cache=_StoreCache(self.store.sync),
            ttl=self.hf_cache_ttl,
            local_cache_dir=self.hf_cache_dir or None,
        )

    async def info(self, model_id: str) -> dict[str, Any]:
        from .huggingface import validate_model_id

        validate_model_id(model_id)
        return await self._workers.run_io(lambda: self.client().model_info(model_id))

    async def search(self, query: str, task: str | None, limit: int) -> list[dict[str, Any]]:
        return await self._workers.run_io(lambda: self.client().search(query, task=task, limit=limit))


class _StoreCache:
    """huggingface.ModelCache over the store."""

    def __init__(self, store: Store):
        self._store = store

    def get(self, key: str) -> tuple[dict[str, Any], float] | None:
        return self._store.cache_get(key)

    def put(self, key: str, data: dict[str, Any]) -> None:
        self._store.cache_put(key, data)
