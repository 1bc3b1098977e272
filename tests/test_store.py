"""The store: migrations from an empty database, events in order, interrupted generations."""

import sqlite3

from sqlalchemy import inspect

from cookbook_ext.store import Store


def _store(tmp_path):
    return Store(f"sqlite:///{tmp_path / 'db' / 'cookbook.db'}")


def test_migrations_create_every_table_and_record_the_revision(tmp_path):
    store = _store(tmp_path)
    tables = set(inspect(store.engine).get_table_names())
    assert {"repos", "model_cache", "generations", "events", "secrets", "alembic_version"} <= tables
    con = sqlite3.connect(tmp_path / "db" / "cookbook.db")
    assert con.execute("select version_num from alembic_version").fetchone() == ("0001",)


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
