"""The Cookbook store: repositories, the Hub cache, generations and their events, comparisons, secrets.

SQLAlchemy over embedded SQLite by default (any database URL for shared deployments), with the
schema managed by Alembic migrations that run on start. Every method is blocking; async callers
go through `AsyncStore`, which runs them on one worker thread so writes keep their order and the
event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import os
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, delete, event, func, insert, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from ..errors import NotFound
from .models import Comparison, Event, Generation, ModelCacheEntry, Repo, Secret

T = TypeVar("T")

TERMINAL_STATUSES = frozenset({"finished", "failed", "cancelled", "interrupted"})


def new_id() -> str:
    return uuid.uuid4().hex


# How long a statement waits for another connection's lock on the SQLite file, and how long a
# server starting waits for another one's migration of it (a loaded machine takes seconds).
SQLITE_BUSY_MS = 30_000
SQLITE_MIGRATION_BUSY_MS = 300_000


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # busy_timeout rides out short locks; first, so that switching a new file to WAL (which
    # needs the file's lock) waits for another server's migration instead of failing at once.
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    # WAL lets the event stream read while a generation writes.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def server_owner() -> str:
    """Whose server this is: the hub user, else the OS user running it. Repositories and
    generations in a shared database belong to their server's owner."""
    import getpass

    return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()


def private_dir(path: Path) -> Path:
    """`path` as a folder only its owner can enter (0700), made if missing."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        if stat.S_IMODE(path.stat().st_mode) != 0o700:
            os.chmod(path, 0o700)
    except OSError:  # not ours (a shared mount): the files inside are still 0600
        logging.getLogger("cookbook_ext").warning("Cookbook could not make %s private (mode 0700)", path)
    return path


def private_sqlite_file(path: Path) -> None:
    """Create the database file (and tighten it and its WAL files) as 0600 before SQLite opens it:
    SQLite gives its -wal and -shm files the database file's mode."""
    if not path.parent.exists():
        private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError:
        return  # SQLite reports what is wrong when it opens it
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if stat.S_IMODE(file.stat().st_mode) & 0o077:
                os.chmod(file, 0o600)
        except OSError:
            continue


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_dumps(value: Any) -> str:
    """JSON columns' serializer: NaN and +-Infinity (from a model card's YAML, say) become null.
    They are not JSON: PostgreSQL's json type refuses them, where SQLite would keep them."""
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), allow_nan=False)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:" and not path.startswith("file:") and "?" not in path:
            private_sqlite_file(Path(path))
        engine = create_engine(
            url,
            # The driver's own wait while it opens the file, before the pragmas run.
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_MS / 1000},
            json_serializer=json_dumps,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, json_serializer=json_dumps)


_MIGRATE_LOCK = threading.Lock()
# The key of the PostgreSQL advisory lock that serialises migrations (any constant: "cook").
_PG_MIGRATION_LOCK = 0x636F6F6B


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is already there)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    # Alembic's `op` and `context` are process-wide proxies: one migration at a time per process.
    with _MIGRATE_LOCK, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Servers sharing a database (a hub's users) start together, after a deployment or an
            # upgrade: without this, each reads the old revision and all but one fail on CREATE
            # TABLE / ADD COLUMN. Now each waits for the first, then finds the schema current.
            # Released when this transaction (the whole migration) ends.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        elif conn.dialect.name == "sqlite":
            # The same for servers sharing one SQLite file: take its write lock before reading the
            # revision. This also keeps the migration one transaction (DDL would commit alone).
            conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_MIGRATION_BUSY_MS}")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        cfg.attributes["connection"] = conn
        try:
            command.upgrade(cfg, "head")
        finally:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")


def _repo_summary(row: Repo) -> dict[str, Any]:
    return {
        "id": row.id,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        **row.result,
        "trusted": row.trusted_at is not None,
        "trusted_at": row.trusted_at,
    }


class Store:
    """Blocking data access. One instance per server; thread-safe (a session per call)."""

    def __init__(self, url: str, *, owner: str = "", run_migrations: bool = True):
        # Repositories and generations belong to the server's owner, so a database shared by
        # many users' servers (PostgreSQL on a hub) shows each only their own. Rows written
        # before owners existed (owner "") stay visible to everyone.
        self.owner = owner
        self.url = url
        self.engine = make_engine(url)
        if run_migrations:
            migrate(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    # -- repositories ---------------------------------------------------------------------------

    def save_repo(self, result: dict[str, Any]) -> dict[str, Any]:
        """Insert or refresh an ingested repository, keyed by source location and commit."""
        where = result.get("url") or result.get("checkout") or result.get("source")
        key = f"{self.owner}|{result.get('kind')}:{where}@{result.get('commit') or ''}"
        now = time.time()
        with self._session.begin() as s:
            row = s.scalar(select(Repo).where(Repo.key == key))
            if row is None:
                row = Repo(id=new_id(), key=key, owner=self.owner, created_at=now)
                s.add(row)
            row.source = str(result.get("source", ""))
            row.kind = str(result.get("kind", ""))
            row.url = result.get("url")
            row.ref = result.get("ref")
            row.commit = result.get("commit")
            row.name = str(result.get("name", ""))[:512]
            row.checkout = str(result.get("checkout", ""))
            row.result = result
            row.updated_at = now
            s.flush()
            return _repo_summary(row)

    def set_repo_trust(self, repo_id: str, trusted: bool) -> dict[str, Any]:
        """Trust (or stop trusting) one ingested repository at its commit."""
        with self._session.begin() as s:
            row = s.get(Repo, repo_id)
            if row is None or row.owner not in (self.owner, ""):
                raise NotFound(f"No ingested repository with id {repo_id!r}.")
            row.trusted_at = (row.trusted_at or time.time()) if trusted else None
            s.flush()
            return _repo_summary(row)

    def get_repo(self, repo_id: str) -> dict[str, Any]:
        with self._session() as s:
            row = s.get(Repo, repo_id)
            if row is None or row.owner not in (self.owner, ""):
                raise NotFound(f"No ingested repository with id {repo_id!r}.")
            return _repo_summary(row)

    def list_repos(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.scalars(
                select(Repo)
                .where(Repo.owner.in_((self.owner, "")))
                .order_by(Repo.updated_at.desc())
                .limit(limit)
            ).all()
            return [_repo_summary(r) for r in rows]

    # -- Hugging Face cache (hub.ModelCache protocol) --------------------------------------------

    def cache_get(self, key: str) -> tuple[dict[str, Any], float] | None:
        with self._session() as s:
            row = s.get(ModelCacheEntry, key)
            return None if row is None else (row.data, row.fetched_at)

    def cache_put(self, key: str, data: dict[str, Any]) -> None:
        with self._session.begin() as s:
            row = s.get(ModelCacheEntry, key)
            if row is None:
                s.add(ModelCacheEntry(key=key, data=data, fetched_at=time.time()))
            else:
                row.data = data
                row.fetched_at = time.time()

    # -- generations ----------------------------------------------------------------------------

    def create_generation(
        self,
        *,
        request: dict[str, Any],
        provider: str,
        model: str | None,
        repo_id: str | None,
        kernel_id: str | None,
        provenance: dict[str, Any] | None = None,
        generation_id: str | None = None,
        parent_id: str | None = None,
    ) -> dict[str, Any]:
        row = Generation(
            id=generation_id or new_id(),
            owner=self.owner,
            status="running",
            request=request,
            repo_id=repo_id,
            kernel_id=kernel_id,
            provider=provider,
            model=model,
            usage={},
            message=None,
            provenance=provenance or {},
            created_at=time.time(),
            finished_at=None,
            parent_id=parent_id,
        )
        with self._session.begin() as s:
            s.add(row)
            repo_name = s.scalar(select(Repo.name).where(Repo.id == repo_id)) if repo_id else None
        return self._generation_dict(row, repo_name)

    @staticmethod
    def _generation_dict(row: Generation, repo_name: str | None = None) -> dict[str, Any]:
        return {
            "id": row.id,
            "status": row.status,
            "request": row.request,
            "repo_id": row.repo_id,
            "kernel_id": row.kernel_id,
            "provider": row.provider,
            "model": row.model,
            "usage": row.usage or {},
            "message": row.message,
            "provenance": row.provenance or {},
            "created_at": row.created_at,
            "finished_at": row.finished_at,
            "parent_id": row.parent_id,
            "cause": row.cause,
            "next_steps": row.next_steps or [],
            "cells_count": row.cells_count,
            "repo_name": repo_name,
        }

    def get_generation(self, generation_id: str) -> dict[str, Any]:
        with self._session() as s:
            row = s.get(Generation, generation_id)
            if row is None or row.owner not in (self.owner, ""):
                raise NotFound(f"No generation with id {generation_id!r}.")
            repo_name = s.scalar(select(Repo.name).where(Repo.id == row.repo_id)) if row.repo_id else None
            return self._generation_dict(row, repo_name)

    def list_generations(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.execute(
                select(Generation, Repo.name)
                .outerjoin(Repo, Repo.id == Generation.repo_id)
                .where(Generation.owner.in_((self.owner, "")))
                .order_by(Generation.created_at.desc())
                .limit(limit)
            ).all()
            return [self._generation_dict(r, name) for r, name in rows]

    def children_of(self, generation_id: str) -> list[str]:
        """The follow-ups of a generation (their ids, oldest first)."""
        with self._session() as s:
            return list(
                s.scalars(
                    select(Generation.id)
                    .where(Generation.parent_id == generation_id, Generation.owner.in_((self.owner, "")))
                    .order_by(Generation.created_at)
                )
            )

    def update_generation(self, generation_id: str, **fields: Any) -> None:
        allowed = {
            "status",
            "usage",
            "message",
            "finished_at",
            "provenance",
            "model",
            "repo_id",
            "cause",
            "next_steps",
            "cells_count",
        }
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        with self._session.begin() as s:
            s.execute(update(Generation).where(Generation.id == generation_id).values(**fields))

    def mark_interrupted(self, message: str) -> list[str]:
        """On start: generations left running by a previous server process did not finish."""
        with self._session.begin() as s:
            ids = list(
                s.scalars(
                    select(Generation.id).where(
                        Generation.status == "running", Generation.owner.in_((self.owner, ""))
                    )
                )
            )
            if ids:
                s.execute(
                    update(Generation)
                    .where(Generation.id.in_(ids))
                    .values(status="interrupted", message=message, finished_at=time.time())
                )
            return ids

    # -- events ---------------------------------------------------------------------------------

    def add_events(
        self, generation_id: str, events: Iterable[tuple[int, str, dict[str, Any], float]]
    ) -> None:
        self.add_event_rows((generation_id, seq, type_, data, ts) for seq, type_, data, ts in events)

    def add_event_rows(self, rows: Iterable[tuple[str, int, str, dict[str, Any], float]]) -> None:
        """Events of any generations, (generation_id, seq, type, data, ts) each, in one
        transaction: a bulk INSERT, without the ORM's per-object bookkeeping."""
        values = [
            {"generation_id": gen_id, "seq": seq, "type": type_, "data": data, "ts": ts}
            for gen_id, seq, type_, data, ts in rows
        ]
        if not values:
            return
        with self.engine.begin() as conn:
            conn.execute(insert(Event), values)

    def last_seq(self, generation_id: str) -> int:
        with self._session() as s:
            value = s.scalar(select(func.max(Event.seq)).where(Event.generation_id == generation_id))
            return int(value or 0)

    def events_after(self, generation_id: str, after: int, limit: int = 1000) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.scalars(
                select(Event)
                .where(Event.generation_id == generation_id, Event.seq > after)
                .order_by(Event.seq)
                .limit(limit)
            ).all()
            return [{"seq": r.seq, "type": r.type, "data": r.data, "ts": r.ts} for r in rows]

    def events_of_types(self, generation_id: str, types: Iterable[str]) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.scalars(
                select(Event)
                .where(Event.generation_id == generation_id, Event.type.in_(list(types)))
                .order_by(Event.seq)
            ).all()
            return [{"seq": r.seq, "type": r.type, "data": r.data, "ts": r.ts} for r in rows]

    # -- comparisons ----------------------------------------------------------------------------

    def create_comparison(
        self, *, comparison_id: str, request: dict[str, Any], runs: list[dict[str, Any]]
    ) -> dict[str, Any]:
        row = Comparison(
            id=comparison_id, owner=self.owner, request=request, runs=runs, created_at=time.time()
        )
        with self._session.begin() as s:
            s.add(row)
        return self._comparison_dict(row)

    @staticmethod
    def _comparison_dict(row: Comparison) -> dict[str, Any]:
        return {"id": row.id, "request": row.request, "runs": row.runs, "created_at": row.created_at}

    def get_comparison(self, comparison_id: str) -> dict[str, Any]:
        with self._session() as s:
            row = s.get(Comparison, comparison_id)
            if row is None or row.owner not in (self.owner, ""):
                raise NotFound(f"No comparison with id {comparison_id!r}.")
            return self._comparison_dict(row)

    def list_comparisons(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.scalars(
                select(Comparison)
                .where(Comparison.owner.in_((self.owner, "")))
                .order_by(Comparison.created_at.desc())
                .limit(limit)
            ).all()
            return [self._comparison_dict(r) for r in rows]

    # -- secrets (ciphertext only; encryption lives in secrets.py) -------------------------------

    def put_secret(self, owner: str, name: str, ciphertext: bytes, hint: str) -> None:
        with self._session.begin() as s:
            row = s.get(Secret, (owner, name))
            if row is None:
                s.add(
                    Secret(owner=owner, name=name, ciphertext=ciphertext, hint=hint, updated_at=time.time())
                )
            else:
                row.ciphertext = ciphertext
                row.hint = hint
                row.updated_at = time.time()

    def get_secret(self, owner: str, name: str) -> bytes | None:
        with self._session() as s:
            row = s.get(Secret, (owner, name))
            return None if row is None else row.ciphertext

    def list_secrets(self, owner: str) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.scalars(select(Secret).where(Secret.owner == owner).order_by(Secret.name)).all()
            return [{"name": r.name, "hint": r.hint, "updated_at": r.updated_at} for r in rows]

    def delete_secret(self, owner: str, name: str) -> bool:
        with self._session.begin() as s:
            res = s.execute(delete(Secret).where(Secret.owner == owner, Secret.name == name))
            return bool(res.rowcount)  # type: ignore[attr-defined]


class AsyncStore:
    """Runs `Store` methods on a dedicated worker thread: ordered writes, a free event loop."""

    def __init__(self, store: Store):
        self.sync = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cookbook-store")

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        fn = getattr(self.sync, name)
        if not callable(fn):
            raise AttributeError(name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self.run(fn, *args, **kwargs)

        return call

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.sync.close()
