"""Fixtures of the store tests: the same test on embedded SQLite and on a real PostgreSQL server.

(The server fixtures, `cookbook_config` among them, are in the root conftest.py.)
"""

from collections.abc import Iterator

import pytest

from tests import pg


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> Iterator[str]:
    """A database URL for a Store: a new SQLite file, or a new PostgreSQL database dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'cookbook.db'}"
    else:
        with pg.fresh_database() as url:
            yield url


@pytest.fixture
def server_db_url(store_url, cookbook_config) -> str:
    """The Jupyter server's `c.CookbookApp.db_url` (request this before `jp_fetch`)."""
    cookbook_config["db_url"] = store_url
    return store_url
