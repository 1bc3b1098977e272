"""Cookbook's data is its user's alone: the data folder and the clone cache are 0700, the
database (and its WAL files) and the secrets key 0600, whatever the umask, and looser modes
left by an earlier version are tightened on start."""

from __future__ import annotations

import json
import os
import stat

import pytest
from cryptography.fernet import Fernet

from cookbook_ext.store import Store


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """Everything the server creates would be world-readable without explicit modes."""
    old = os.umask(0)
    yield
    os.umask(old)


@pytest.fixture
def loose_leftovers(tmp_path):
    """A data folder from before: world-readable folder, database and key."""
    data = tmp_path / "cookbook-data"
    (data / "cache" / "clones").mkdir(parents=True)
    for folder in (data, data / "cache", data / "cache" / "clones"):
        os.chmod(folder, 0o755)
    store = Store(f"sqlite:///{data / 'cookbook.db'}")
    store.close()
    os.chmod(data / "cookbook.db", 0o644)
    (data / "secrets.key").write_bytes(Fernet.generate_key())
    os.chmod(data / "secrets.key", 0o644)
    return data


def _check(data) -> None:
    assert _mode(data) == 0o700
    assert _mode(data / "cache") == 0o700
    assert _mode(data / "cache" / "clones") == 0o700
    assert _mode(data / "cookbook.db") == 0o600
    assert _mode(data / "secrets.key") == 0o600
    for extra in ("cookbook.db-wal", "cookbook.db-shm"):
        if (data / extra).exists():
            assert _mode(data / extra) == 0o600, extra


async def test_a_new_data_folder_is_private(open_umask, jp_fetch, tmp_path):
    resp = await jp_fetch(
        "cookbook", "secrets", "HF_TOKEN", method="PUT", body=json.dumps({"value": "v" * 20})
    )
    assert resp.code == 200
    _check(tmp_path / "cookbook-data")
    assert (tmp_path / "cookbook-data" / "cookbook.db-wal").exists()  # checked, not skipped


async def test_a_loose_data_folder_is_tightened_on_start(loose_leftovers, jp_fetch):
    key = (loose_leftovers / "secrets.key").read_bytes()
    await jp_fetch("cookbook", "status")
    _check(loose_leftovers)
    assert (loose_leftovers / "secrets.key").read_bytes() == key  # the same key, made private


def test_the_store_alone_makes_its_database_private(open_umask, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'new' / 'c.db'}")
    try:
        store.put_secret("alice", "X", b"ciphertext", "…")
        assert _mode(tmp_path / "new") == 0o700
        for name in ("c.db", "c.db-wal", "c.db-shm"):
            assert _mode(tmp_path / "new" / name) == 0o600, name
    finally:
        store.close()
