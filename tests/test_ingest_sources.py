"""Sources: what a user may ingest (validation), and shallow, pinned, cached clones over git HTTP."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cookbook_ext.errors import AuthRequired, BadRequest, Forbidden, NotFound, TooLarge, UpstreamTimeout
from cookbook_ext.ingest import IngestOptions, parse_source
from cookbook_ext.ingest.sources import fetch_checkout, local_commit
from tests.fakes.git_server import GitServer, git, git_server  # noqa: F401

TOKEN = "ghp_" + "T" * 36


@pytest.fixture
def options(tmp_path: Path) -> IngestOptions:
    root = tmp_path / "root"
    root.mkdir()
    return IngestOptions(root_dir=root, cache_dir=tmp_path / "cache", clone_timeout=20)


@pytest.fixture
def remote(options: IngestOptions, git_server: GitServer) -> IngestOptions:  # noqa: F811
    options.github_url = git_server.url
    return options


def clones(options: IngestOptions) -> list[str]:
    folder = options.cache_dir / "clones"
    return sorted(os.listdir(folder)) if folder.exists() else []


# -- validation ---------------------------------------------------------------------------------


def test_github_url_is_parsed_into_owner_and_repo(options: IngestOptions) -> None:
    src = parse_source("https://github.com/acme/models", None, options)
    assert (src.kind, src.owner, src.repo, src.ref, src.url) == (
        "github",
        "acme",
        "models",
        None,
        "https://github.com/acme/models",
    )


def test_dot_git_suffix_trailing_slash_and_www_are_accepted(options: IngestOptions) -> None:
    src = parse_source("https://www.github.com/acme/models.git/", None, options)
    assert (src.owner, src.repo, src.url) == ("acme", "models", "https://github.com/acme/models")


def test_url_without_scheme_is_read_as_https(options: IngestOptions) -> None:
    assert parse_source("github.com/acme/models", None, options).kind == "github"


def test_tree_ref_comes_from_the_url(options: IngestOptions) -> None:
    src = parse_source("https://github.com/acme/models/tree/v1.2", None, options)
    assert src.ref == "v1.2"


def test_ref_field_and_url_ref_must_agree(options: IngestOptions) -> None:
    with pytest.raises(BadRequest, match="give only one"):
        parse_source("https://github.com/acme/models/tree/main", "dev", options)


def test_ref_field_may_name_the_ref_of_a_tree_url_with_a_folder(options: IngestOptions) -> None:
    src = parse_source("https://github.com/acme/models/tree/main/examples", "main", options)
    assert (src.ref, src.subpath) == ("main", "examples")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("file:///etc/passwd", "file://"),
        ("ssh://git@github.com/acme/models.git", "ssh://"),
        ("git://github.com/acme/models.git", "git://"),
        ("git@github.com:acme/models.git", "SSH addresses"),
        ("http://github.com/acme/models", "Only https://"),
        ("https://github.com", "does not name a repository"),
        ("https://github.com/acme", "does not name a repository"),
        ("https://github.com/acme/models/issues/3", "page of the repository"),
        ("https://github.com/-bad-/models", "not a valid repository name"),
        ("https://github.com/acme/..", "not a valid repository name"),
        ("https://[::1", "malformed"),
        ("https://github.com:8443/acme/models", "port"),
        ("", "empty"),
        ("   ", "empty"),
        ("https://github.com/acme/models\n", None),
        ("https://github.com/acme/mo\x00dels", "control characters"),
        ("https://github.com/" + "a" * 3000, "too long"),
    ],
)
def test_malformed_or_unsupported_sources_are_bad_requests(
    options: IngestOptions, source: str, message: str | None
) -> None:
    if message is None:  # surrounding whitespace is forgiven
        assert parse_source(source, None, options).repo == "models"
        return
    with pytest.raises(BadRequest, match=message):
        parse_source(source, None, options)


def test_credentials_in_the_url_are_refused_without_echoing_them(options: IngestOptions) -> None:
    with pytest.raises(BadRequest) as info:
        parse_source(f"https://x-access-token:{TOKEN}@github.com/acme/models", None, options)
    assert TOKEN not in info.value.message
    assert "GITHUB_TOKEN" in info.value.message


@pytest.mark.parametrize(
    "source",
    [
        "https://gitlab.com/acme/models",
        "https://github.com.evil.example/acme/models",
        "https://127.0.0.1/acme/models",
        "https://[::1]/acme/models",
        "https://2130706433/acme/models",
        "https://localhost/acme/models",
        "https://api.localhost/acme/models",
    ],
)
def test_hosts_that_are_not_allowed_are_forbidden(options: IngestOptions, source: str) -> None:
    with pytest.raises(Forbidden):
        parse_source(source, None, options)


def test_an_administrator_can_allow_another_host(options: IngestOptions) -> None:
    options.allowed_hosts = ("github.com", "ghe.example.com")
    assert parse_source("https://ghe.example.com/team/models", None, options).url == (
        "https://ghe.example.com/team/models"
    )


@pytest.mark.parametrize("ref", ["-upload-pack=evil", "a..b", "bad ref", "x:y", "ends.lock", "a//b", "@{1}"])
def test_invalid_refs_are_bad_requests(options: IngestOptions, ref: str) -> None:
    with pytest.raises(BadRequest, match="not a valid branch"):
        parse_source("https://github.com/acme/models", ref, options)


def test_local_folder_under_the_root_is_accepted(options: IngestOptions) -> None:
    (options.root_dir / "projects" / "demo").mkdir(parents=True)
    src = parse_source("projects/demo", None, options)
    assert src.kind == "local"
    assert src.path == (options.root_dir / "projects" / "demo").resolve()


def test_absolute_path_inside_the_root_is_accepted(options: IngestOptions) -> None:
    (options.root_dir / "demo").mkdir()
    assert parse_source(str(options.root_dir / "demo"), None, options).kind == "local"


@pytest.mark.parametrize("path", ["..", "../elsewhere", "/etc", "/"])
def test_path_outside_the_root_is_forbidden(options: IngestOptions, path: str) -> None:
    with pytest.raises(Forbidden, match="outside the Jupyter root"):
        parse_source(path, None, options)


def test_symlink_leading_out_of_the_root_is_forbidden(options: IngestOptions, tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", options.root_dir / "sneaky")
    with pytest.raises(Forbidden):
        parse_source("sneaky", None, options)


def test_missing_folder_is_not_found(options: IngestOptions) -> None:
    with pytest.raises(NotFound):
        parse_source("no-such-folder", None, options)


def test_a_file_is_not_a_folder(options: IngestOptions) -> None:
    (options.root_dir / "notes.txt").write_text("hi")
    with pytest.raises(BadRequest, match="is a file"):
        parse_source("notes.txt", None, options)


def test_a_ref_makes_no_sense_for_a_local_folder(options: IngestOptions) -> None:
    (options.root_dir / "demo").mkdir()
    with pytest.raises(BadRequest, match="ref"):
        parse_source("demo", "main", options)


def test_local_commit_is_read_from_git_files_without_running_git(options: IngestOptions) -> None:
    repo = options.root_dir / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", str(repo))
    (repo / "a.txt").write_text("a")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "one", cwd=repo)
    head = git("-C", str(repo), "rev-parse", "HEAD").strip()
    (repo / "sub").mkdir()
    assert local_commit(repo / "sub", options.root_dir) == head
    git("-C", str(repo), "pack-refs", "--all")
    assert local_commit(repo, options.root_dir) == head


# -- clones -------------------------------------------------------------------------------------


def fetch(source: str, options: IngestOptions, ref: str | None = None):  # type: ignore[no-untyped-def]
    return fetch_checkout(parse_source(source, ref, options), options)


def test_public_repository_is_cloned_at_its_default_branch(
    remote: IngestOptions,
    git_server: GitServer,  # noqa: F811
) -> None:
    sha = git_server.create_repo("acme", "models", {"README.md": "# Models\n", "src/a.py": "x = 1\n"})
    checkout = fetch("https://github.com/acme/models", remote)
    assert (checkout.commit, checkout.ref, checkout.cached) == (sha, "main", False)
    assert (checkout.root / "README.md").read_text() == "# Models\n"
    assert checkout.path.parent == remote.cache_dir / "clones"


def test_clone_is_shallow(remote: IngestOptions, git_server: GitServer) -> None:  # noqa: F811
    git_server.create_repo("acme", "models", {"a.txt": "1"})
    git_server.commit_more("acme", "models", {"b.txt": "2"})
    checkout = fetch("https://github.com/acme/models", remote)
    assert git("-C", str(checkout.path), "rev-list", "--count", "HEAD").strip() == "1"


def test_second_ingest_of_the_same_commit_uses_the_cache(
    remote: IngestOptions,
    git_server: GitServer,  # noqa: F811
) -> None:
    git_server.create_repo("acme", "models", {"a.txt": "1"})
    first = fetch("https://github.com/acme/models", remote)
    fetches_before = len([r for r in git_server.requests if r.method == "POST"])
    second = fetch("https://github.com/acme/models", remote)
    assert second.cached and second.path == first.path
    # Only ref resolution (ls-remote) reached the server, no second pack download.
    assert len([r for r in git_server.requests if r.method == "POST"]) == fetches_before + 1


def test_new_commit_on_the_branch_gets_a_new_checkout(
    remote: IngestOptions,
    git_server: GitServer,  # noqa: F811
) -> None:
    git_server.create_repo("acme", "models", {"a.txt": "1"})
    first = fetch("https://github.com/acme/models", remote)
    newer = git_server.commit_more("acme", "models", {"b.txt": "2"})
    second = fetch("https://github.com/acme/models", remote)
    assert second.commit == newer and second.path != first.path
    assert (second.path / "b.txt").exists() and not (first.path / "b.txt").exists()


def test_tag_branch_and_full_sha_refs_resolve(remote: IngestOptions, git_server: GitServer) -> None:  # noqa: F811
    old = git_server.create_repo("acme", "models", {"v.txt": "1"}, tags=("v1.0",))
    git_server.commit_more("acme", "models", {"v.txt": "2"})
    tagged = fetch("https://github.com/acme/models", remote, ref="v1.0")
    assert tagged.commit == old and (tagged.root / "v.txt").read_text() == "1"
    pinned = fetch(f"https://github.com/acme/models/commit/{old}", remote)
    assert pinned.commit == old


def test_commit_that_is_not_a_branch_tip_is_fetched_by_sha(
    remote: IngestOptions,
    git_server: GitServer,  # noqa: F811
) -> None:
    old = git_server.create_repo("acme", "models", {"v.txt": "1"})
    git_server.commit_more("acme", "models", {"v.txt": "2"})
    checkout = fetch("https://github.com/acme/models", remote, ref=old)
    assert checkout.commit == old and (checkout.root / "v.txt").read_text() == "1"


def test_tree_url_with_a_folder_ingests_that_folder(remote: IngestOptions, git_server: GitServer) -> None:  # noqa: F811
    git_server.create_repo(
        "acme", "models", {"examples/run.py": "print(1)\n", "README.md": "x"}, branch="dev"
    )
    checkout = fetch("https://github.com/acme/models/tree/dev/examples", remote)
    assert checkout.ref == "dev"
    assert checkout.root == checkout.path / "examples"


def test_unknown_ref_is_not_found(remote: IngestOptions, git_server: GitServer) -> None:  # noqa: F811
    git_server.create_repo("acme", "models", {"a.txt": "1"})
    with pytest.raises(NotFound, match="no branch, tag or commit named 'nope'"):
        fetch("https://github.com/acme/models", remote, ref="nope")


def test_short_sha_asks_for_the_full_one(remote: IngestOptions, git_server: GitServer) -> None:  # noqa: F811
    git_server.create_repo("acme", "models", {"a.txt": "1"})
    with pytest.raises(BadRequest, match="40-character"):
        fetch("https://github.com/acme/models", remote, ref="abc1234")


def test_private_repository_without_token_asks_for_one(
    remote: IngestOptions,
    git_server: GitServer,  # noqa: F811
) -> None:
    git_server.create_repo("acme", "secret", {"a.txt": "1"})
    git_server.require_token("acme", "secret", TOKEN)
    with pytest.raises(AuthRequired, match="GITHUB_TOKEN") as info:
        fetch("https://github.com/acme/secret", remote)
    assert info.value.status == 401
    assert clones(remote) == []


def test_missing_repository_without_token_may_be_private(
    remote: IngestOptions,
    git_server: GitServer,  # noqa: F811
) -> None:
    # GitHub answers alike for "missing" and "private, no token": the message covers both.
    with pytest.raises(AuthRequired, match="not found, or it is private"):
        fetch("https://github.com/acme/nothing-here", remote)


def test_missing_repository_with_token_is_not_found(
    remote: IngestOptions,
    git_server: GitServer,  # noqa: F811
) -> None:
    remote.github_token = TOKEN
    with pytest.raises(NotFound) as info:
        fetch("https://github.com/acme/nothing-here", remote)
    assert info.value.status == 404


def test_private_repository_is_cloned_with_the_token_which_is_never_stored(
    remote: IngestOptions,
    git_server: GitServer,  # noqa: F811
) -> None:
    git_server.create_repo("acme", "secret", {"a.txt": "private stuff"})
    git_server.require_token("acme", "secret", TOKEN)
    remote.github_token = TOKEN
    checkout = fetch("https://github.com/acme/secret", remote)
    assert (checkout.root / "a.txt").read_text() == "private stuff"
    git_dir = checkout.path / ".git"
    for path in git_dir.rglob("*"):
        if path.is_file() and path.suffix not in (".pack", ".idx"):
            assert TOKEN.encode() not in path.read_bytes(), path
    config = (git_dir / "config").read_text()
    assert "extraheader" not in config.lower() and "@" not in config
    assert all(r.authorization for r in git_server.requests_for("acme/secret"))


def test_rejected_token_says_so(remote: IngestOptions, git_server: GitServer) -> None:  # noqa: F811
    git_server.create_repo("acme", "secret", {"a.txt": "1"})
    git_server.require_token("acme", "secret", TOKEN)
    remote.github_token = "ghp_" + "W" * 36
    with pytest.raises(AuthRequired, match="rejected the token"):
        fetch("https://github.com/acme/secret", remote)


def test_repository_over_the_size_limit_is_refused_and_leaves_nothing(
    remote: IngestOptions,
    git_server: GitServer,  # noqa: F811
) -> None:
    git_server.create_repo("acme", "big", {"blob.bin": os.urandom(300_000), "README.md": "x"})
    remote.max_repo_mb = 0.1
    with pytest.raises(TooLarge, match="limit of 0.1 MB") as info:
        fetch("https://github.com/acme/big", remote)
    assert info.value.status == 413
    assert clones(remote) == []


def test_repository_over_the_file_limit_is_refused_and_leaves_nothing(
    remote: IngestOptions,
    git_server: GitServer,  # noqa: F811
) -> None:
    git_server.create_repo("acme", "many", {f"f{i}.txt": str(i) for i in range(12)})
    remote.max_files = 10
    with pytest.raises(TooLarge, match="12 files, more than the limit of 10"):
        fetch("https://github.com/acme/many", remote)
    assert clones(remote) == []


def test_clone_that_stalls_times_out_and_leaves_nothing(
    remote: IngestOptions,
    git_server: GitServer,  # noqa: F811
) -> None:
    git_server.create_repo("acme", "slow", {"a.txt": "1"})
    git_server.stall("acme", "slow", on="fetch")
    remote.clone_timeout = 1.5
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match="longer than 1.5 s") as info:
        fetch("https://github.com/acme/slow", remote)
    assert time.monotonic() - started < 10
    assert info.value.status == 504
    assert clones(remote) == []


def test_ref_resolution_that_stalls_times_out_too(remote: IngestOptions, git_server: GitServer) -> None:  # noqa: F811
    git_server.create_repo("acme", "slow", {"a.txt": "1"})
    git_server.stall("acme", "slow", on="all")
    remote.clone_timeout = 1.0
    with pytest.raises(UpstreamTimeout):
        fetch("https://github.com/acme/slow", remote)


def test_stale_temp_dirs_of_killed_clones_are_cleaned_up(
    remote: IngestOptions,
    git_server: GitServer,  # noqa: F811
) -> None:
    git_server.create_repo("acme", "models", {"a.txt": "1"})
    stale = remote.cache_dir / "clones" / ".tmp-deadbeef"
    stale.mkdir(parents=True)
    old = time.time() - 3 * 24 * 3600
    os.utime(stale, (old, old))
    fetch("https://github.com/acme/models", remote)
    assert not stale.exists()
