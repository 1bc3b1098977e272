"""The store: migrations from an empty database, events in order, interrupted generations."""

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect

import cookbook_ext.store
from cookbook_ext.errors import NotFound
from cookbook_ext.store import Store


def _store(tmp_path):
    return Store(f"sqlite:///{tmp_path / 'db' / 'cookbook.db'}")


def test_migrations_create_every_table_and_record_the_revision(tmp_path):
    store = _store(tmp_path)
    tables = set(inspect(store.engine).get_table_names())
    assert {"repos", "model_cache", "generations", "events", "secrets", "alembic_version"} <= tables
    con = sqlite3.connect(tmp_path / "db" / "cookbook.db")
    assert con.execute("select version_num from alembic_version").fetchone() == ("0002",)


def test_reopening_an_existing_database_keeps_its_rows(tmp_path):
    store = _store(tmp_path)
    repo = store.save_repo({"kind": "local", "checkout": "/r", "name": "r", "source": "r"})
    store.close()
    again = _store(tmp_path)
    assert again.get_repo(repo["id"])["name"] == "r"


def test_the_same_checkout_and_commit_is_saved_once(tmp_path):
    store = _store(tmp_path)
    a = store.save_repo({"kind": "github", "url": "https://github.com/o/r", "commit": "abc", "name": "r"})
    b = store.save_repo({"kind": "github", "url": "https://github.com/o/r", "commit": "abc", "name": "r2"})
    c = store.save_repo({"kind": "github", "url": "https://github.com/o/r", "commit": "def", "name": "r"})
    assert a["id"] == b["id"] != c["id"]
    assert store.get_repo(a["id"])["name"] == "r2"


def test_events_come_back_in_sequence_after_a_given_number(tmp_path):
    store = _store(tmp_path)
    gen = store.create_generation(request={}, provider="offline", model=None, repo_id=None, kernel_id=None)
    store.add_events(gen["id"], [(i, "status", {"i": i}, float(i)) for i in range(1, 8)])
    assert [e["seq"] for e in store.events_after(gen["id"], 4)] == [5, 6, 7]
    assert store.last_seq(gen["id"]) == 7


def test_running_generations_are_marked_interrupted_on_start(tmp_path):
    store = _store(tmp_path)
    running = store.create_generation(
        request={}, provider="offline", model=None, repo_id=None, kernel_id=None
    )
    done = store.create_generation(request={}, provider="offline", model=None, repo_id=None, kernel_id=None)
    store.update_generation(done["id"], status="finished")
    assert store.mark_interrupted("restarted") == [running["id"]]
    assert store.get_generation(running["id"])["status"] == "interrupted"
    assert store.get_generation(done["id"])["status"] == "finished"


def test_a_shared_database_shows_each_owner_only_their_own(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    alice, bob = Store(url, owner="alice"), Store(url, owner="bob")
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


def test_upgrading_a_version_one_database_keeps_its_rows_visible(tmp_path):
    from alembic import command
    from alembic.config import Config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = Store(url, run_migrations=False).engine
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(cookbook_ext.store.__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.exec_driver_sql(
            "insert into repos (id, key, source, kind, name, checkout, result, created_at, updated_at) "
            "values (?, 'k', 's', 'local', 'old', '/x', ?, 1, 1)",
            ("0123456789abcdef0123456789abcdef", '{"name": "old"}'),
        )
    upgraded = Store(url, owner="carol")
    assert [r["name"] for r in upgraded.list_repos()] == ["old"]
