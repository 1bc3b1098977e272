"""The store: migrations from an empty database, events in order, interrupted generations.

Every test runs on embedded SQLite and on a real PostgreSQL server (`store_url`, tests/conftest.py).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect

import cookbook_ext.store
from cookbook_ext.errors import NotFound
from cookbook_ext.store import Store, make_engine
from tests.fakes.repos import make_local_repo

TABLES = {"repos", "model_cache", "generations", "events", "secrets"}


@pytest.fixture
def open_store(store_url):
    """Open Stores on the test's database; all are closed (connections returned) at the end."""
    opened: list[Store] = []

    def open_(owner: str = "", **kw) -> Store:
        store = Store(store_url, owner=owner, **kw)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


def _config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(cookbook_ext.store.__file__).parent / "migrations"))
    return cfg


def _revisions() -> list[str]:
    """Every migration, oldest first (a single line of history)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_config())
    assert len(script.get_heads()) == 1, "the migrations branch"
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


HEAD = _revisions()[-1]


def _alembic(engine, command_name: str, revision: str) -> None:
    from alembic import command

    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, command_name)(cfg, revision)


def _revision(engine) -> str | None:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("select version_num from alembic_version").all()
    assert len(rows) <= 1
    return rows[0][0] if rows else None


def _columns(engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns(table)}


def test_migrations_create_every_table_and_record_the_revision(open_store):
    store = open_store()
    tables = set(inspect(store.engine).get_table_names())
    assert TABLES | {"comparisons", "alembic_version"} <= tables
    assert _revision(store.engine) == HEAD
    assert {"id", "key", "owner", "source", "kind", "commit", "result"} <= _columns(store.engine, "repos")
    generation_columns = _columns(store.engine, "generations")
    assert {"id", "owner", "status", "request", "usage", "provenance"} <= generation_columns
    assert {"generation_id", "seq", "type", "data", "ts"} <= _columns(store.engine, "events")
    indexes = {i["name"] for i in inspect(store.engine).get_indexes("events")}
    assert "ix_events_generation_type" in indexes


def test_the_migrated_schema_is_the_models_schema(open_store):
    """What the migrations build matches the ORM models, tables, columns, types and indexes."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from cookbook_ext.store.models import Base

    store = open_store()
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_migrations_go_down_and_up_again_on_an_empty_database(store_url):
    revisions = _revisions()
    assert revisions[:2] == ["0001", "0002"]
    engine = make_engine(store_url)
    try:
        _alembic(engine, "upgrade", "head")
        assert _revision(engine) == HEAD
        assert "owner" in _columns(engine, "repos") and "owner" in _columns(engine, "generations")
        assert "ix_repos_owner" in {i["name"] for i in inspect(engine).get_indexes("repos")}

        # Down one migration at a time: each downgrade works on this database.
        for below in reversed([None, *revisions[:-1]]):
            _alembic(engine, "downgrade", "-1")
            assert _revision(engine) == below
            if below == "0003":
                assert "comparisons" not in set(inspect(engine).get_table_names())
            if below == "0001":
                assert "owner" not in _columns(engine, "repos")
                assert "owner" not in _columns(engine, "generations")
                assert TABLES <= set(inspect(engine).get_table_names())
        assert not TABLES & set(inspect(engine).get_table_names())

        _alembic(engine, "upgrade", "head")
        assert _revision(engine) == HEAD
        assert TABLES | {"comparisons"} <= set(inspect(engine).get_table_names())
        assert "owner" in _columns(engine, "repos")
    finally:
        engine.dispose()
    # ...and the schema it leaves is one the store works on.
    store = Store(store_url, owner="dora")
    try:
        repo = store.save_repo({"kind": "local", "checkout": "/d", "name": "d", "source": "d"})
        assert store.get_repo(repo["id"])["name"] == "d"
    finally:
        store.close()


# A server process: import everything, wait for the start signal (stdin closed), open the store.
# A pause after alembic reads the revision widens the window in which a second server, unless the
# store serialises migrations, reads the same old revision and collides on CREATE TABLE.
_SERVER_START = """
import sys, time
from alembic.runtime.migration import MigrationContext
from cookbook_ext.store import Store
read_heads = MigrationContext.get_current_heads
def slow_read_heads(self):
    heads = read_heads(self)
    time.sleep(0.3)
    return heads
MigrationContext.get_current_heads = slow_read_heads
print("ready", flush=True)
sys.stdin.read()
Store(sys.argv[1], owner=sys.argv[2]).close()
"""


def test_servers_starting_together_on_a_new_database_all_migrate_it(store_url):
    """A hub's users' servers start at once on one shared database: one migrates, none fails."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SERVER_START, store_url, f"user{i}"],
            cwd=Path(__file__).parent.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    for p in procs:  # every one has imported everything and waits for the signal
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    for p in procs:
        p.stdin.close()  # go, all within a millisecond
    errors = [p.stderr.read() for p in procs]
    for p in procs:
        p.wait(timeout=600)
    # Each failure's traceback tail: which statement found the file locked.
    tails = ["\n".join(err.strip().splitlines()[-12:]) for err in errors if err.strip()]
    assert [p.returncode for p in procs] == [0] * len(procs), "\n---\n".join(tails)
    engine = make_engine(store_url)
    try:
        assert _revision(engine) == HEAD
    finally:
        engine.dispose()


def test_reopening_an_existing_database_keeps_its_rows(open_store):
    store = open_store()
    repo = store.save_repo({"kind": "local", "checkout": "/r", "name": "r", "source": "r"})
    store.close()
    again = open_store()
    assert again.get_repo(repo["id"])["name"] == "r"


def test_the_same_checkout_and_commit_is_saved_once(open_store):
    store = open_store()
    a = store.save_repo({"kind": "github", "url": "https://github.com/o/r", "commit": "abc", "name": "r"})
    b = store.save_repo({"kind": "github", "url": "https://github.com/o/r", "commit": "abc", "name": "r2"})
    c = store.save_repo({"kind": "github", "url": "https://github.com/o/r", "commit": "def", "name": "r"})
    assert a["id"] == b["id"] != c["id"]
    assert store.get_repo(a["id"])["name"] == "r2"


def test_json_columns_keep_nested_values_and_text_round_trips(open_store):
    store = open_store()
    result = {
        "kind": "local",
        "checkout": "/ünïcode ✓",
        "name": "naïve-模型",
        "source": "s",
        "files": [{"path": "a.py", "size": 3, "binary": False, "score": 0.5}],
        "nested": {"none": None, "list": [1, [2, {"three": 3}]], "quote": 'it\'s "quoted" \\ \u0000'},
    }
    repo = store.save_repo(result)
    got = store.get_repo(repo["id"])
    assert {k: got[k] for k in result} == result
    gen = store.create_generation(
        request={"prompt": "p", "options": {"n": 2}},
        provider="offline",
        model=None,
        repo_id=repo["id"],
        kernel_id=None,
        provenance={"sources": ["README.md"]},
    )
    store.update_generation(gen["id"], usage={"input_tokens": 10, "cost_usd": 0.25}, status="finished")
    stored = store.get_generation(gen["id"])
    assert stored["request"] == {"prompt": "p", "options": {"n": 2}}
    assert stored["usage"] == {"input_tokens": 10, "cost_usd": 0.25}
    assert stored["provenance"] == {"sources": ["README.md"]} and stored["repo_id"] == repo["id"]
    store.cache_put("model:acme/tiny", {"id": "acme/tiny", "tags": ["a", "b"]})
    store.cache_put("model:acme/tiny", {"id": "acme/tiny", "tags": ["c"]})
    data, fetched_at = store.cache_get("model:acme/tiny")
    assert data == {"id": "acme/tiny", "tags": ["c"]} and fetched_at > 0


def test_json_values_that_are_not_json_are_stored_as_null(open_store):
    """NaN and Infinity (a model card's YAML `.nan`, say): PostgreSQL's json type refuses them."""
    store = open_store()
    nan, inf = float("nan"), float("inf")
    store.cache_put("acme/tiny@main", {"metrics": [{"value": nan}, {"value": -inf}], "ok": 1.5})
    assert store.cache_get("acme/tiny@main")[0] == {"metrics": [{"value": None}, {"value": None}], "ok": 1.5}
    repo = store.save_repo({"kind": "local", "checkout": "/n", "name": "n", "source": "n", "score": inf})
    assert store.get_repo(repo["id"])["score"] is None
    gen = store.create_generation(request={}, provider="offline", model=None, repo_id=None, kernel_id=None)
    store.add_events(gen["id"], [(1, "status", {"x": (nan, 2)}, 1.0)])
    assert store.events_after(gen["id"], 0)[0]["data"] == {"x": [None, 2]}


def test_events_come_back_in_sequence_after_a_given_number(open_store):
    store = open_store()
    gen = store.create_generation(request={}, provider="offline", model=None, repo_id=None, kernel_id=None)
    store.add_events(gen["id"], [(i, "status", {"i": i}, float(i)) for i in range(1, 8)])
    assert [e["seq"] for e in store.events_after(gen["id"], 4)] == [5, 6, 7]
    assert store.last_seq(gen["id"]) == 7
    assert [e["data"] for e in store.events_of_types(gen["id"], ["status"])][:2] == [{"i": 1}, {"i": 2}]


def test_a_batch_of_events_with_a_duplicate_is_stored_not_at_all(open_store):
    store = open_store()
    gen = store.create_generation(request={}, provider="offline", model=None, repo_id=None, kernel_id=None)
    store.add_events(gen["id"], [(1, "status", {}, 1.0)])
    with pytest.raises(sa.exc.IntegrityError):
        store.add_events(gen["id"], [(2, "status", {}, 2.0), (1, "status", {}, 3.0)])
    assert [e["seq"] for e in store.events_after(gen["id"], 0)] == [1]  # the batch rolled back whole
    # ...and the store still works after the failed transaction.
    store.add_events(gen["id"], [(2, "status", {}, 2.0)])
    assert store.last_seq(gen["id"]) == 2


def test_running_generations_are_marked_interrupted_on_start(open_store):
    store = open_store()
    running = store.create_generation(
        request={}, provider="offline", model=None, repo_id=None, kernel_id=None
    )
    done = store.create_generation(request={}, provider="offline", model=None, repo_id=None, kernel_id=None)
    store.update_generation(done["id"], status="finished")
    assert store.mark_interrupted("restarted") == [running["id"]]
    assert store.get_generation(running["id"])["status"] == "interrupted"
    assert store.get_generation(done["id"])["status"] == "finished"


def test_comparisons_are_kept_per_owner_newest_first(open_store, monkeypatch):
    dora, eve = open_store("dora"), open_store("eve")
    clock = iter([100.0, 200.0])
    fake_time = type("Clock", (), {"time": staticmethod(lambda: next(clock))})
    monkeypatch.setattr(cookbook_ext.store, "time", fake_time)
    runs = [{"index": 0, "provider": "offline", "model": None, "generation_id": "g" * 32}]
    request = {"prompt": "p", "inputs": {"n": 2}}
    first = dora.create_comparison(comparison_id="a" * 32, request=request, runs=runs)
    dora.create_comparison(comparison_id="b" * 32, request={"prompt": "q"}, runs=runs)
    assert dora.get_comparison("a" * 32) == first and first["request"]["inputs"] == {"n": 2}
    assert [c["id"] for c in dora.list_comparisons()] == ["b" * 32, "a" * 32]
    assert eve.list_comparisons() == []
    with pytest.raises(NotFound):
        eve.get_comparison("a" * 32)


def test_secrets_are_kept_per_owner_as_bytes(open_store):
    store = open_store()
    store.put_secret("alice", "ANTHROPIC_API_KEY", b"\x00\xffcipher", "…1234")
    store.put_secret("alice", "ANTHROPIC_API_KEY", b"\x01cipher2", "…5678")
    store.put_secret("bob", "ANTHROPIC_API_KEY", b"bob", "…0000")
    assert store.get_secret("alice", "ANTHROPIC_API_KEY") == b"\x01cipher2"
    assert [s["hint"] for s in store.list_secrets("alice")] == ["…5678"]
    assert store.delete_secret("alice", "ANTHROPIC_API_KEY") is True
    assert store.delete_secret("alice", "ANTHROPIC_API_KEY") is False
    assert store.get_secret("alice", "ANTHROPIC_API_KEY") is None
    assert store.get_secret("bob", "ANTHROPIC_API_KEY") == b"bob"


def test_a_shared_database_shows_each_owner_only_their_own(open_store):
    alice, bob = open_store(owner="alice"), open_store(owner="bob")
    repo = alice.save_repo({"kind": "local", "checkout": "/same", "name": "r", "source": "r"})
    gen = alice.create_generation(request={}, provider="offline", model=None, repo_id=None, kernel_id=None)
    assert bob.list_repos() == [] and bob.list_generations() == []
    with pytest.raises(NotFound):
        bob.get_repo(repo["id"])
    with pytest.raises(NotFound):
        bob.get_generation(gen["id"])
    # The same folder ingested by bob is bob's own row.
    assert (
        bob.save_repo({"kind": "local", "checkout": "/same", "name": "r", "source": "r"})["id"] != repo["id"]
    )
    # Bob's server starting does not interrupt alice's running generation.
    assert bob.mark_interrupted("restart") == []
    assert alice.get_generation(gen["id"])["status"] == "running"


def test_upgrading_a_version_one_database_keeps_its_rows_visible(store_url, open_store):
    engine = make_engine(store_url)
    _alembic(engine, "upgrade", "0001")
    plain = ("id", "key", "source", "kind", "name", "checkout", "created_at", "updated_at")
    repos = sa.table("repos", *(sa.column(c) for c in plain), sa.column("result", sa.JSON))
    with engine.begin() as conn:
        conn.execute(
            repos.insert().values(
                id="0123456789abcdef0123456789abcdef",
                key="k",
                source="s",
                kind="local",
                name="old",
                checkout="/x",
                result={"name": "old"},
                created_at=1,
                updated_at=1,
            )
        )
    engine.dispose()
    upgraded = open_store(owner="carol")
    assert [r["name"] for r in upgraded.list_repos()] == ["old"]


async def test_a_jupyter_server_on_the_database_serves_status_and_an_ingest(
    server_db_url, jp_fetch, jp_root_dir
):
    status = json.loads((await jp_fetch("cookbook", "status")).body)
    assert "offline" in [p["name"] for p in status["providers"]]

    make_local_repo(jp_root_dir)
    resp = await jp_fetch("cookbook", "repos", method="POST", body=json.dumps({"source": "tiny-model"}))
    assert resp.code == 201
    repo = json.loads(resp.body)
    listed = json.loads((await jp_fetch("cookbook", "repos")).body)
    assert repo["id"] in json.dumps(listed)
    got = json.loads((await jp_fetch("cookbook", "repos", repo["id"])).body)
    assert got["id"] == repo["id"] and got["name"] == "tiny-model"

    # The row is in the configured database itself (PostgreSQL for the `postgresql` variant).
    engine = sa.create_engine(server_db_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("select name from repos where id = :id"), {"id": repo["id"]}).all()
            assert rows == [("tiny-model",)]
            assert conn.exec_driver_sql("select version_num from alembic_version").scalar() == HEAD
    finally:
        engine.dispose()
