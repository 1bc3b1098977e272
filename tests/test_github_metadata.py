"""GitHub repository metadata through PyGithub against a fake GitHub API on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from cookbook_ext.errors import AuthRequired, BadRequest, Forbidden, NotFound, Upstream, UpstreamTimeout
from cookbook_ext.ingest.github import fetch_repo_metadata
from tests.fakes.fixtures_hub import local_network_only
from tests.fakes.github_api import DEFAULT_TOKEN, FakeGitHub


@pytest.fixture(autouse=True)
def _local_network_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with local_network_only() as attempts:
        yield
    assert not attempts, f"the test tried to reach the network: {attempts}"


def add_repos(github: FakeGitHub) -> None:
    github.add_repo(
        "octo",
        "summarizer",
        description="Summarise German news",
        topics=["nlp", "summarization"],
        license="Apache-2.0",
        stars=42,
        default_branch="develop",
    )
    github.add_repo("octo", "secret-sauce", description="Private", private=True, license="MIT")


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        add_repos(server)
        yield server


def test_public_repo_metadata(github: FakeGitHub) -> None:
    meta = fetch_repo_metadata("octo", "summarizer", token=None, api_url=github.url)

    assert meta == {
        "description": "Summarise German news",
        "topics": ["nlp", "summarization"],
        "license": "Apache-2.0",
        "stars": 42,
        "default_branch": "develop",
        "private": False,
        "html_url": "https://github.com/octo/summarizer",
        "full_name": "octo/summarizer",
    }


def test_metadata_takes_a_single_request(github: FakeGitHub) -> None:
    fetch_repo_metadata("octo", "summarizer", token=None, api_url=github.url)

    assert [r.path for r in github.requests] == ["/repos/octo/summarizer"]


def test_private_repo_without_a_token_asks_for_a_github_token(github: FakeGitHub) -> None:
    with pytest.raises(AuthRequired) as caught:
        fetch_repo_metadata("octo", "secret-sauce", token=None, api_url=github.url)

    assert caught.value.status == 401
    assert "private" in caught.value.message
    assert "GITHUB_TOKEN" in caught.value.message


def test_private_repo_with_a_token_is_described(github: FakeGitHub) -> None:
    meta = fetch_repo_metadata("octo", "secret-sauce", token=DEFAULT_TOKEN, api_url=github.url)

    assert meta["private"] is True
    assert meta["license"] == "MIT"
    assert github.requests[0].headers["authorization"] == f"token {DEFAULT_TOKEN}"


def test_missing_repo_with_a_token_is_not_found(github: FakeGitHub) -> None:
    with pytest.raises(NotFound) as caught:
        fetch_repo_metadata("octo", "no-such-repo", token=DEFAULT_TOKEN, api_url=github.url)

    assert caught.value.status == 404
    assert "octo/no-such-repo" in caught.value.message


def test_enterprise_base_url_is_honoured() -> None:
    with FakeGitHub(prefix="/api/v3", html_host="ghe.example.com") as enterprise:
        add_repos(enterprise)

        meta = fetch_repo_metadata("octo", "summarizer", token=None, api_url=enterprise.url)

    assert meta["html_url"] == "https://ghe.example.com/octo/summarizer"
    assert [r.path for r in enterprise.requests] == ["/api/v3/repos/octo/summarizer"]


def test_rejected_token_is_auth_required_without_echoing_it(github: FakeGitHub) -> None:
    token = "ghp_revoked_token_0123456789"

    with pytest.raises(AuthRequired) as caught:
        fetch_repo_metadata("octo", "summarizer", token=token, api_url=github.url)

    assert "GITHUB_TOKEN" in caught.value.message
    assert token not in caught.value.message


def test_spent_rate_limit_is_an_upstream_error(github: FakeGitHub) -> None:
    github.rate_limited = True

    with pytest.raises(Upstream) as caught:
        fetch_repo_metadata("octo", "summarizer", token=None, api_url=github.url)

    assert caught.value.code == "rate_limited"
    assert "rate limit" in caught.value.message
    assert len(github.requests) == 1  # no retries waiting for the reset


def test_unlicensed_and_unidentified_licences_are_none(github: FakeGitHub) -> None:
    github.add_repo("octo", "custom-licence", license="NOASSERTION")
    github.add_repo("octo", "no-licence")

    assert fetch_repo_metadata("octo", "custom-licence", token=None, api_url=github.url)["license"] is None
    assert fetch_repo_metadata("octo", "no-licence", token=None, api_url=github.url)["license"] is None


def test_server_error_is_an_upstream_error(github: FakeGitHub) -> None:
    github.fail_with = 502

    with pytest.raises(Upstream) as caught:
        fetch_repo_metadata("octo", "summarizer", token=None, api_url=github.url)

    assert "(502)" in caught.value.message


def test_unreachable_api_is_an_upstream_error(github: FakeGitHub) -> None:
    url = github.url
    github.stop()

    with pytest.raises(Upstream) as caught:
        fetch_repo_metadata("octo", "summarizer", token=None, api_url=url)

    assert caught.value.status == 502
    assert "could not be reached" in caught.value.message


def test_slow_api_is_an_upstream_timeout(github: FakeGitHub) -> None:
    github.delay = 5

    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as caught:
        fetch_repo_metadata("octo", "summarizer", token=None, api_url=github.url, timeout=1)

    assert caught.value.status == 504
    assert time.monotonic() - started < 4


def test_organisation_refusal_is_forbidden(github: FakeGitHub) -> None:
    github.fail_with = 403

    with pytest.raises(Forbidden):
        fetch_repo_metadata("octo", "summarizer", token=DEFAULT_TOKEN, api_url=github.url)


@pytest.mark.parametrize(
    ("owner", "repo"),
    [
        ("..", "etc"),
        ("octo", ".."),
        ("octo", "../etc"),
        ("octo/evil", "repo"),
        ("octo", "a/b"),
        ("", "repo"),
        ("octo", ""),
        ("oc to", "repo"),
        ("octo", "re po"),
        ("-octo", "repo"),
        ("o" * 40, "repo"),
        ("octo", "r" * 101),
        ("octo", "repo\n"),
        ("https://x", "repo"),
    ],
)
def test_bad_owner_or_repo_is_rejected_before_any_request(github: FakeGitHub, owner: str, repo: str) -> None:
    with pytest.raises(BadRequest):
        fetch_repo_metadata(owner, repo, token=None, api_url=github.url)

    assert github.requests == []


@pytest.mark.parametrize(
    "api_url", ["ftp://api.github.com", "not a url", "https://user:pw@ghe.example.com/api/v3"]
)
def test_bad_api_url_is_rejected(api_url: str) -> None:
    with pytest.raises(BadRequest) as caught:
        fetch_repo_metadata("octo", "summarizer", token=None, api_url=api_url)

    assert "pw" not in caught.value.message
