"""Pytest fixtures for the fake Hugging Face Hub and GitHub API, and a guard that keeps tests on 127.0.0.1.

Register with `pytest_plugins = ("tests.fakes.fixtures_hub",)`; `local_network_only()` also works as a
plain context manager (e.g. in benchmarks).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from .github_api import FakeGitHub
from .hub_server import FakeHub

LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost", "0.0.0.0", "::"})


class ExternalNetworkAttempt(OSError):
    """Raised (and recorded) when code under test reaches for a host other than this machine."""


@contextmanager
def local_network_only() -> Iterator[list[str]]:
    """Refuse DNS lookups and connections to anything but loopback; yields the refused attempts.

    The refusals are recorded because code under test may catch the error (and report "Hub unreachable"),
    which would otherwise hide that it tried the internet.
    """
    attempts: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def allowed(host: Any) -> bool:
        return isinstance(host, str) and (host in LOCAL_HOSTS or host.startswith("127."))

    def refuse(what: str) -> ExternalNetworkAttempt:
        attempts.append(what)
        return ExternalNetworkAttempt(f"tests may not reach the network ({what})")

    def connect(sock: Any, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not allowed(address[0]):
            raise refuse(f"connect {address!r}")
        real_connect(sock, address)

    def connect_ex(sock: Any, address: Any) -> int:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not allowed(address[0]):
            raise refuse(f"connect {address!r}")
        return real_connect_ex(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, bytes):
            host = host.decode()
        if host is not None and not allowed(host):
            raise refuse(f"resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    try:
        yield attempts
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = real_getaddrinfo


@pytest.fixture
def no_external_network() -> Iterator[None]:
    """Fail the test if anything tried to leave this machine, even if the error was handled."""
    with local_network_only() as attempts:
        yield
    assert not attempts, f"the test tried to reach the network: {attempts}"


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    with FakeHub() as hub:
        yield hub


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as github:
        yield github
