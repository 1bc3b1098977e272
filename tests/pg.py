"""PostgreSQL for the store tests: a fresh database per test on the server `scripts/pg.sh` starts.

`scripts/pg.sh` (run by `scripts/test.sh`) exports COOKBOOK_TEST_PG_URL, a SQLAlchemy URL of that
server's maintenance database. Without it the PostgreSQL variants are skipped, except under CI
(`CI` set to true), where a missing server is a failure: a broken setup must not pass unnoticed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, make_url
from sqlalchemy.pool import NullPool

PG_URL_VAR = "COOKBOOK_TEST_PG_URL"


def _under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def server_url() -> str:
    """The server's URL, or skip (fail under CI) when there is none."""
    url = os.environ.get(PG_URL_VAR, "").strip()
    if not url:
        reason = f"{PG_URL_VAR} is not set: run through scripts/pg.sh (or scripts/test.sh) for PostgreSQL"
        if _under_ci():
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    return url


@contextmanager
def fresh_database(prefix: str = "cookbook_test") -> Iterator[str]:
    """CREATE DATABASE with a unique name, yield its URL, DROP it (with any connection left open)."""
    server = make_url(server_url())
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
