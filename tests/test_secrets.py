"""Secrets are encrypted at rest, listed by name and hint only, and the key file is private."""

import os
import stat

import pytest

from cookbook_ext.errors import BadRequest, NotFound
from cookbook_ext.secrets import Secrets, load_or_create_key
from cookbook_ext.store import Store

VALUE = "hf_abcdefghijklmnopqrstuvwxyz0123456789"


@pytest.fixture
def secrets(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    return Secrets(store, load_or_create_key(tmp_path / "secrets.key")), tmp_path


def test_value_is_encrypted_at_rest(secrets):
    sec, tmp_path = secrets
    sec.put("alice", "HF_TOKEN", VALUE)
    raw = (tmp_path / "c.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("c.db-*") if p.is_file()
    )
    assert VALUE.encode() not in raw
    assert sec.get("alice", "HF_TOKEN") == VALUE


def test_listing_shows_names_and_a_masked_hint_only(secrets):
    sec, _ = secrets
    sec.put("alice", "HF_TOKEN", VALUE)
    (item,) = sec.list("alice")
    assert item["name"] == "HF_TOKEN"
    assert VALUE not in str(item) and item["hint"] == "…6789"


def test_secrets_are_per_user(secrets):
    sec, _ = secrets
    sec.put("alice", "HF_TOKEN", VALUE)
    assert sec.list("bob") == []
    assert sec.get("bob", "HF_TOKEN") is None


def test_key_file_is_readable_only_by_its_owner(secrets):
    _, tmp_path = secrets
    mode = stat.S_IMODE(os.stat(tmp_path / "secrets.key").st_mode)
    assert mode == 0o600


@pytest.mark.parametrize("name", ["", "1ABC", "A-B", "A B", "x" * 200, "../etc", "ABC\n", "ABC\r\n", " ABC"])
def test_bad_names_are_refused(secrets, name):
    sec, _ = secrets
    with pytest.raises(BadRequest):
        sec.put("alice", name, VALUE)
    assert sec.list("alice") == []


def test_deleting_a_missing_secret_is_not_found(secrets):
    sec, _ = secrets
    with pytest.raises(NotFound):
        sec.delete("alice", "NOPE")


def test_a_deployment_key_is_used_but_never_listed(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    sec = Secrets(store, load_or_create_key(tmp_path / "k"), defaults={"ANTHROPIC_API_KEY": VALUE})
    assert sec.resolve("alice", "ANTHROPIC_API_KEY") == VALUE
    assert sec.list("alice") == []
    assert VALUE in sec.values("alice")  # still masked wherever it might appear
    sec.put("alice", "ANTHROPIC_API_KEY", "alices-own-key-0123456789")
    assert sec.resolve("alice", "ANTHROPIC_API_KEY") == "alices-own-key-0123456789"
