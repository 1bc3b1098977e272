"""GitHub repository metadata (description, topics, licence, stars) through PyGithub.

Works against github.com and GitHub Enterprise Server alike (`api_url`, e.g. https://ghe.example.com/api/v3).
"""

from __future__ import annotations

import logging
import math
import re
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from github import Auth, Github, GithubException
from github.GithubException import RateLimitExceededException

from cookbook_ext.errors import (
    AuthRequired,
    BadRequest,
    CookbookError,
    Forbidden,
    NotFound,
    Upstream,
    UpstreamTimeout,
)

__all__ = ["fetch_repo_metadata"]

logger = logging.getLogger(__name__)

# GitHub's own rules: a login is alphanumeric with single inner hyphens (at most 39 characters);
# a repository name is letters, digits, '.', '_' and '-' (at most 100).
_OWNER = re.compile(r"^[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}$")
_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def fetch_repo_metadata(
    owner: str,
    repo: str,
    *,
    token: str | None,
    api_url: str = "https://api.github.com",
    timeout: float = 20.0,
) -> dict:
    """Description, topics, SPDX licence, stars, default branch and visibility of one repository. Blocking.

    Raises AuthRequired when the repository may be private and no token was given, NotFound when it does not
    exist, Upstream/UpstreamTimeout when GitHub cannot answer (a spent rate limit included).
    """
    owner, repo = _validate_name(owner, repo)
    api_url = _validate_api_url(api_url)
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    full_name = f"{owner}/{repo}"
    host = urlsplit(api_url).netloc
    client = Github(
        base_url=api_url,
        auth=Auth.Token(token) if token else None,
        # PyGithub takes whole seconds only.
        timeout=max(1, math.ceil(timeout)),
        # Its default retries wait out rate limits and outages for minutes; one answer now is what we want.
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    try:
        repository = client.get_repo(full_name)
        raw: dict[str, Any] = repository.raw_data
        licence = raw.get("license") if isinstance(raw.get("license"), dict) else None
        spdx = licence.get("spdx_id") if licence else None
        return {
            "description": repository.description,
            "topics": [t for t in (repository.topics or []) if isinstance(t, str)],
            # GitHub says NOASSERTION when it sees a licence file it cannot identify: not an SPDX id.
            "license": spdx if isinstance(spdx, str) and spdx and spdx != "NOASSERTION" else None,
            "stars": int(repository.stargazers_count or 0),
            "default_branch": repository.default_branch,
            "private": bool(repository.private),
            "html_url": repository.html_url,
            "full_name": repository.full_name,
        }
    except GithubException as exc:
        raise _github_error(exc, full_name=full_name, has_token=bool(token), host=host) from exc
    except requests.exceptions.Timeout as exc:
        raise UpstreamTimeout(
            f"GitHub ({host}) did not answer within {timeout:g} seconds; try again later."
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise Upstream(
            f"GitHub ({host}) could not be reached. Check the network connection (and the GitHub API URL "
            "for GitHub Enterprise) and try again."
        ) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise Upstream(f"GitHub ({host}) answered with data Cookbook could not read.") from exc
    finally:
        client.close()


def _github_error(exc: GithubException, *, full_name: str, has_token: bool, host: str) -> CookbookError:
    status = exc.status
    headers = {str(k).lower(): str(v) for k, v in (exc.headers or {}).items()}
    if (
        isinstance(exc, RateLimitExceededException)
        or status == 429
        or (status == 403 and headers.get("x-ratelimit-remaining") == "0")
    ):
        when = _reset_time(headers.get("x-ratelimit-reset"))
        hint = "" if has_token else " A GitHub token (GITHUB_TOKEN) raises the limit."
        return Upstream(f"GitHub's API rate limit is used up; try again {when}.{hint}", code="rate_limited")
    if status == 404:
        if not has_token:
            return AuthRequired(
                f"GitHub repository {full_name} was not found. It may be private: add a GitHub token "
                "(GITHUB_TOKEN) that can read it, or check the owner and name.",
                code="github_not_found_or_private",
            )
        return NotFound(
            f"GitHub repository {full_name} was not found, or the GitHub token in use cannot see it. "
            "Check the owner and name."
        )
    if status == 401:
        if has_token:
            return AuthRequired(
                "GitHub rejected the GitHub token (GITHUB_TOKEN): it may be expired or revoked. Replace it.",
                code="github_bad_token",
            )
        return AuthRequired(f"GitHub ({host}) requires a token: add a GitHub token (GITHUB_TOKEN).")
    if status == 403:
        return Forbidden(
            f"GitHub refused access to {full_name}. If it belongs to an organisation that enforces SSO or "
            "IP allow lists, authorise the GitHub token (GITHUB_TOKEN) for it."
        )
    if status == 451:
        return Forbidden(f"GitHub blocks access to {full_name} for legal reasons.")
    if status >= 500:
        return Upstream(f"GitHub ({host}) had an error ({status}); try again later.")
    return Upstream(f"GitHub ({host}) answered unexpectedly ({status}) for {full_name}.")


def _reset_time(reset: str | None) -> str:
    try:
        seconds = int(reset or "")
    except ValueError:
        return "later"
    return time.strftime("after %H:%M UTC", time.gmtime(seconds))


def _validate_name(owner: str, repo: str) -> tuple[str, str]:
    if not isinstance(owner, str) or not _OWNER.fullmatch(owner):
        raise BadRequest(f"'{_shorten(owner)}' is not a GitHub user or organisation name.")
    if isinstance(repo, str) and repo.endswith(".git"):
        repo = repo[: -len(".git")]
    if not isinstance(repo, str) or not _REPO.fullmatch(repo) or repo in (".", ".."):
        raise BadRequest(f"'{_shorten(repo)}' is not a GitHub repository name.")
    return owner, repo


def _validate_api_url(api_url: str) -> str:
    parts = urlsplit(api_url) if isinstance(api_url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest("The GitHub API URL must be an http(s) address, such as https://api.github.com.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise BadRequest("The GitHub API URL must not carry credentials, a query or a fragment.")
    return api_url.rstrip("/")


def _shorten(value: object, limit: int = 80) -> str:
    text = re.sub(r"[\x00-\x1f\x7f]", "?", str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"
