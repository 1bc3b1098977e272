"""Where a repository comes from: validate a user's source, and fetch GitHub checkouts into a cache.

A source is either an https URL of a repository on an allowed host, or a folder under the Jupyter
root directory. Remote repositories are cloned shallowly with `git` (a subprocess with a deadline,
never a shell), pinned to a commit and cached by (URL, commit); a clone that fails or breaks a
limit leaves nothing behind.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from ..errors import (
    AuthRequired,
    BadRequest,
    CookbookError,
    Forbidden,
    Invalid,
    NotFound,
    TooLarge,
    Upstream,
    UpstreamTimeout,
)
from ..redact import mask_credentials
from .options import IngestOptions

__all__ = ["Checkout", "Source", "fetch_checkout", "local_commit", "parse_source"]

_MAX_SOURCE_CHARS = 2048
# "scheme://" anywhere, or a bare "file:"/"http:" style prefix (a folder name may contain ":").
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://|^(file|https?|ssh|git):", re.IGNORECASE)
_SCP_LIKE = re.compile(r"^[\w.\-]+@[\w.\-]+:")  # git@github.com:owner/repo
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9\-]{0,38})$")
_REPO = re.compile(r"^[A-Za-z0-9._\-]{1,100}$")
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_SHORT_SHA = re.compile(r"^[0-9a-f]{7,39}$")
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")
_USAGE = "Give a repository URL such as https://github.com/OWNER/REPO (optionally /tree/BRANCH)"


@dataclass(frozen=True)
class Source:
    """A validated source. For GitHub, `ref` may still carry a folder after the ref's name
    (``/tree/main/examples``): only the remote's refs can tell where the name ends."""

    kind: Literal["github", "local"]
    source: str
    url: str | None = None  # canonical https://HOST/OWNER/REPO
    owner: str | None = None
    repo: str | None = None
    ref: str | None = None
    ref_has_path: bool = False
    subpath: str | None = None
    path: Path | None = None  # local folder, resolved

    @property
    def name(self) -> str:
        if self.kind == "github":
            return str(self.repo)
        return self.path.name if self.path is not None else self.source


@dataclass(frozen=True)
class Checkout:
    """Files of a fetched commit on disk."""

    path: Path  # the cached clone
    root: Path  # the folder to ingest: the clone, or a folder in it
    commit: str
    ref: str
    cached: bool


# --------------------------------------------------------------------------------------------
# Validation


def parse_source(source: str, ref: str | None, options: IngestOptions) -> Source:
    """Validate a user's source and ref; no I/O besides resolving a local path.

    Raises BadRequest for malformed input, Forbidden for hosts or paths that are not allowed,
    NotFound for a missing local folder.
    """
    if not isinstance(source, str) or not source.strip():
        raise BadRequest(f"The source is empty. {_USAGE}, or a folder under the Jupyter root directory.")
    text = source.strip()
    if len(text) > _MAX_SOURCE_CHARS:
        raise BadRequest(f"The source is too long (over {_MAX_SOURCE_CHARS} characters). {_USAGE}.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise BadRequest(f"The source contains control characters. {_USAGE}.")
    clean_ref = _check_ref(ref)

    scheme = _SCHEME.match(text)
    if scheme:
        return _parse_url(text, (scheme.group(1) or scheme.group(2)).lower(), clean_ref, options)
    if _SCP_LIKE.match(text):
        raise BadRequest(f"SSH addresses (git@host:owner/repo) are not supported. {_USAGE}.")
    first = text.split("/", 1)[0].lower()
    if "/" in text and _host_allowed(first.removeprefix("www."), options):
        # "github.com/owner/repo" without a scheme: unless such a folder exists, it is a URL.
        if not (Path(options.root_dir) / text).exists():
            return _parse_url("https://" + text, "https", clean_ref, options)
    return _parse_local(text, clean_ref, options)


def _check_ref(ref: str | None) -> str | None:
    if ref is None:
        return None
    if not isinstance(ref, str):
        raise BadRequest("The ref must be a branch, tag or commit name.")
    ref = ref.strip()
    if not ref:
        return None
    if (
        len(ref) > 255
        or ref.startswith(("-", "/", "."))
        or ref.endswith(("/", ".", ".lock"))
        or _REF_FORBIDDEN.search(ref)
    ):
        raise BadRequest(f"'{ref[:80]}' is not a valid branch, tag or commit name.")
    return ref


def _host_allowed(host: str, options: IngestOptions) -> bool:
    return host in {h.lower().rstrip(".") for h in options.allowed_hosts}


def _parse_url(text: str, scheme: str, ref: str | None, options: IngestOptions) -> Source:
    if scheme == "file":
        raise BadRequest(
            "file:// URLs are not accepted. To ingest a folder, give its path under the Jupyter "
            "root directory."
        )
    if scheme in ("ssh", "git", "git+ssh", "ssh+git"):
        raise BadRequest(f"{scheme}:// addresses are not supported. {_USAGE}.")
    if scheme != "https":
        raise BadRequest(f"Only https:// URLs are supported, not {scheme}:. {_USAGE}.")
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise BadRequest(f"The URL is malformed. {_USAGE}.") from None
    if "@" in parts.netloc:
        raise BadRequest(
            "Remove the user name or token from the URL: credentials in URLs end up in logs and caches. "
            "For a private repository, set a GitHub token (GITHUB_TOKEN or the secrets store) instead."
        )
    if not host:
        raise BadRequest(f"The URL has no host. {_USAGE}.")
    host = host.rstrip(".")
    if _is_ip_literal(host) or host == "localhost" or host.endswith(".localhost"):
        raise Forbidden(f"IP addresses and localhost are not accepted as sources. {_USAGE}.")
    if host.startswith("www.") and _host_allowed(host[4:], options):
        host = host[4:]
    if not _host_allowed(host, options):
        allowed = ", ".join(options.allowed_hosts) or "none"
        raise Forbidden(
            f"Repositories on {host} cannot be ingested; allowed hosts: {allowed}. "
            "An administrator can allow more hosts in the Cookbook settings."
        )
    if port not in (None, 443):
        raise BadRequest(f"Remove the port from the URL. {_USAGE}.")

    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2:
        raise BadRequest(f"The URL does not name a repository. {_USAGE}.")
    owner, repo = segments[0], segments[1].removesuffix(".git")
    if not _OWNER.match(owner) or not _REPO.match(repo) or repo in (".", ".."):
        raise BadRequest(f"'{owner}/{repo}' is not a valid repository name. {_USAGE}.")

    rest = segments[2:]
    url_ref: str | None = None
    if rest:
        if rest[0] in ("tree", "blob") and len(rest) >= 2:
            url_ref = unquote("/".join(rest[1:]))
        elif rest[0] == "commit" and len(rest) == 2:
            url_ref = rest[1]
        else:
            raise BadRequest(f"The URL points at a page of the repository, not the repository. {_USAGE}.")
        url_ref = _check_ref(url_ref)

    ref_has_path = False
    subpath: str | None = None
    if url_ref and ref:
        if url_ref == ref:
            pass
        elif url_ref.startswith(ref + "/"):
            subpath = url_ref[len(ref) + 1 :]
        else:
            raise BadRequest(f"The URL names ref '{url_ref}' but the ref field says '{ref}'; give only one.")
    elif url_ref:
        ref = url_ref
        ref_has_path = "/" in url_ref
    return Source(
        kind="github",
        source=text,
        url=f"https://{host}/{owner}/{repo}",
        owner=owner,
        repo=repo,
        ref=ref,
        ref_has_path=ref_has_path,
        subpath=subpath,
    )


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    # Forms that resolvers still read as IPv4: 2130706433, 0x7f.1, 127.1
    return bool(re.fullmatch(r"(?:0x[0-9a-f]+|\d+)(?:\.(?:0x[0-9a-f]+|\d+)){0,3}", host))


def _parse_local(text: str, ref: str | None, options: IngestOptions) -> Source:
    if ref:
        raise BadRequest("A ref can only be given for a GitHub repository, not for a local folder.")
    root = Path(options.root_dir).resolve()
    given = Path(text)
    candidate = given if given.is_absolute() else root / given
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError):
        raise BadRequest(f"The path '{text}' cannot be resolved (a symbolic link loop?).") from None
    if not resolved.is_relative_to(root):
        raise Forbidden(
            f"The folder '{text}' is outside the Jupyter root directory; pick a folder inside it."
        )
    if not resolved.exists():
        raise NotFound(f"There is no folder '{text}' under the Jupyter root directory.")
    if not resolved.is_dir():
        raise BadRequest(f"'{text}' is a file; give the folder of a repository.")
    return Source(kind="local", source=text, path=resolved)


# --------------------------------------------------------------------------------------------
# Local folders


def local_commit(folder: Path, stop_at: Path) -> str | None:
    """The commit checked out in the git work tree holding `folder`, read from .git files.

    Never runs git here: a user's repository config (core.fsmonitor, hooks) could run code.
    """
    current = folder
    while True:
        git = current / ".git"
        if git.is_file():  # a worktree or submodule: "gitdir: <path>"
            try:
                line = git.read_text(errors="replace").strip()
            except OSError:
                return None
            if not line.startswith("gitdir:"):
                return None
            git = (current / line[7:].strip()).resolve()
        if git.is_dir():
            return _read_head(git)
        if current == stop_at or current.parent == current:
            return None
        current = current.parent


def _read_head(git_dir: Path) -> str | None:
    try:
        head = (git_dir / "HEAD").read_text(errors="replace").strip()
        if _FULL_SHA.match(head):
            return head
        if not head.startswith("ref: "):
            return None
        name = head[5:].strip()
        if ".." in name:
            return None
        ref_file = git_dir / name
        if ref_file.is_file():
            sha = ref_file.read_text(errors="replace").strip()
            return sha if _FULL_SHA.match(sha) else None
        packed = git_dir / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(errors="replace").splitlines():
                sha, _, refname = line.partition(" ")
                if refname == name and _FULL_SHA.match(sha):
                    return sha
    except OSError:
        return None
    return None


# --------------------------------------------------------------------------------------------
# Remote clones


def fetch_checkout(src: Source, options: IngestOptions) -> Checkout:
    """Resolve the source's ref to a commit and return a checkout of it, from the cache if possible.

    Raises AuthRequired / Forbidden / NotFound as the remote answers, TooLarge over the size or
    file limits, UpstreamTimeout past `clone_timeout`, Upstream for other git failures.
    """
    git = _Git(src, options)
    name, commit, subpath = git.resolve()
    if src.subpath:
        subpath = src.subpath

    clones = Path(options.cache_dir) / "clones"
    clones.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(clones, options.clone_timeout)
    final = clones / git.cache_key(commit)
    if not final.is_dir():
        tmp = clones / f".tmp-{uuid.uuid4().hex}"
        try:
            actual = git.clone_into(tmp, name, commit)
            if actual != commit:  # the branch moved between ls-remote and clone
                commit, final = actual, clones / git.cache_key(actual)
            if final.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
                return _checkout(src, final, commit, name, subpath, cached=True)
            try:
                os.rename(tmp, final)
            except OSError:
                if not final.is_dir():
                    raise
                # A concurrent ingestion of the same commit finished first; use its copy.
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return _checkout(src, final, commit, name, subpath, cached=False)
    return _checkout(src, final, commit, name, subpath, cached=True)


def _checkout(
    src: Source, path: Path, commit: str, ref: str, subpath: str | None, *, cached: bool
) -> Checkout:
    root = path
    if subpath:
        target = (path / subpath).resolve()
        if not target.is_relative_to(path.resolve()) or not target.exists():
            raise NotFound(f"There is no folder '{subpath}' at {ref} in {src.owner}/{src.repo}.")
        root = target if target.is_dir() else target.parent
    return Checkout(path=path, root=root, commit=commit, ref=ref, cached=cached)


def _remove_stale_temps(clones: Path, timeout: float) -> None:
    """Clean up temp dirs of clones whose process died (killed mid-clone)."""
    horizon = time.time() - max(3600.0, 4 * timeout)
    try:
        entries = list(os.scandir(clones))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(".tmp-"):
            try:
                if entry.stat(follow_symlinks=False).st_mtime < horizon:
                    shutil.rmtree(entry.path, ignore_errors=True)
            except OSError:
                pass


def _tree_bytes(path: Path) -> int:
    total = 0
    stack = [str(path)]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        try:
                            total += entry.stat(follow_symlinks=False).st_size
                        except OSError:
                            pass
        except OSError:
            pass
    return total


class _Git:
    """git subprocesses for one source, sharing one deadline and one locked-down environment."""

    def __init__(self, src: Source, options: IngestOptions) -> None:
        self.src = src
        self.options = options
        self.label = f"{src.owner}/{src.repo}"
        base = options.github_url.rstrip("/")
        self.url = f"{base}/{src.owner}/{src.repo}.git"
        self.token = options.github_token or None
        self.deadline = time.monotonic() + options.clone_timeout
        self.env = self._env(base)

    def _env(self, base: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/nonexistent"),
            "LC_ALL": "C",
            "LANG": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": shutil.which("true") or "/bin/true",
            "SSH_ASKPASS": shutil.which("true") or "/bin/true",
            "GCM_INTERACTIVE": "never",
            # The user's and the system's git config could add credential helpers, URL rewrites
            # or LFS filters; a clone here must not depend on them.
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_LFS_SKIP_SMUDGE": "1",
        }
        for name in (
            "http_proxy",
            "https_proxy",
            "no_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "NO_PROXY",
            "GIT_SSL_CAINFO",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
        ):
            if name in os.environ:
                env[name] = os.environ[name]
        config = [
            ("credential.helper", ""),
            ("protocol.allow", "never"),
            ("protocol.https.allow", "always"),
            ("core.hooksPath", os.devnull),
            ("advice.detachedHead", "false"),
        ]
        if base.startswith("http://"):  # a test server or an in-house plain-http mirror
            config.append(("protocol.http.allow", "always"))
        if self.token:
            basic = base64.b64encode(f"x-access-token:{self.token}".encode()).decode()
            # Through the environment, like `git -c`: never written to .git/config, and unlike
            # `-c` arguments not visible to other users in the process list.
            config.append(("http.extraHeader", f"Authorization: Basic {basic}"))
        env["GIT_CONFIG_COUNT"] = str(len(config))
        for i, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{i}"] = key
            env[f"GIT_CONFIG_VALUE_{i}"] = value
        return env

    def cache_key(self, commit: str) -> str:
        ident = f"{self.options.github_url.rstrip('/').lower()}/{self.label.lower()}\n{commit}"
        return hashlib.sha256(ident.encode()).hexdigest()[:32]

    # -- steps -----------------------------------------------------------------------------

    def resolve(self) -> tuple[str, str, str | None]:
        """(ref name, commit, folder after the ref) for the source, via `git ls-remote`."""
        ref = self.src.ref
        if ref is None:
            out = self.run(["ls-remote", "--symref", "--", self.url, "HEAD"])
            branch, commit = None, None
            for line in out.splitlines():
                left, _, right = line.partition("\t")
                if left.startswith("ref: refs/heads/") and right == "HEAD":
                    branch = left[len("ref: refs/heads/") :]
                elif right == "HEAD" and _FULL_SHA.match(left):
                    commit = left
            if commit is None:
                raise Invalid(f"{self.label} has no commits yet; there is nothing to ingest.")
            return branch or "HEAD", commit, None

        candidates = [ref]
        if self.src.ref_has_path:
            parts = ref.split("/")
            candidates = ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]
        patterns = [
            p for c in candidates for p in (f"refs/heads/{c}", f"refs/tags/{c}", f"refs/tags/{c}^{{}}")
        ]
        refs: dict[str, str] = {}
        for line in self.run(["ls-remote", "--", self.url, *patterns]).splitlines():
            sha, _, name = line.partition("\t")
            refs[name] = sha
        for cand in candidates:
            rest = ref[len(cand) + 1 :] or None
            found = (
                refs.get(f"refs/heads/{cand}")
                or refs.get(f"refs/tags/{cand}^{{}}")  # an annotated tag's commit
                or refs.get(f"refs/tags/{cand}")
            )
            if found:
                return cand, found, rest
            if _FULL_SHA.match(cand.lower()):
                return cand.lower(), cand.lower(), rest
        if _SHORT_SHA.match(candidates[-1].lower()):
            raise BadRequest(
                f"'{candidates[-1]}' looks like a short commit id; give the full 40-character SHA."
            )
        raise NotFound(f"{self.label} has no branch, tag or commit named '{ref}'.")

    def clone_into(self, tmp: Path, ref: str, commit: str) -> str:
        """Clone `ref` shallowly into `tmp`, check the limits, check out; returns the commit."""
        pack_dir = tmp / ".git" / "objects" / "pack"
        if ref == commit:
            self.run(["init", "-q", "--template=", str(tmp)])
            self.run(
                ["-C", str(tmp), "fetch", "-q", "--depth", "1", "--no-tags", "--", self.url, commit],
                watch=pack_dir,
            )
            self.run(["-C", str(tmp), "update-ref", "--no-deref", "HEAD", "FETCH_HEAD"])
        else:
            self.run(
                [
                    "clone",
                    "-q",
                    "--no-checkout",
                    "--depth",
                    "1",
                    "--single-branch",
                    "--no-tags",
                    "--template=",
                    "--branch",
                    ref,
                    "--",
                    self.url,
                    str(tmp),
                ],
                watch=pack_dir,
            )
        actual = self.run(["-C", str(tmp), "rev-parse", "HEAD"]).strip()
        self._check_limits(tmp)
        self.run(["-C", str(tmp), "checkout", "-q", "--force", "--detach", "HEAD"])
        return actual

    def _check_limits(self, tmp: Path) -> None:
        # Sizes come from the tree before anything is written, so an oversized checkout never lands.
        out = self.run(["-C", str(tmp), "ls-tree", "-r", "-l", "-z", "--full-tree", "HEAD"])
        files = 0
        size = 0
        for entry in out.split("\0"):
            meta, _, _ = entry.partition("\t")
            fields = meta.split()
            if len(fields) == 4 and fields[1] == "blob":
                files += 1
                size += int(fields[3]) if fields[3].isdigit() else 0
        if files > self.options.max_files:
            raise TooLarge(
                f"{self.label} has {files} files, more than the limit of {self.options.max_files}. "
                "Pick a smaller repository, or ask an administrator to raise the file limit."
            )
        if size > self.options.max_repo_bytes:
            raise TooLarge(self._too_large_message(size))

    def _too_large_message(self, size: int) -> str:
        return (
            f"{self.label} is larger than the limit of {self.options.max_repo_mb:g} MB "
            f"(at least {size / 1048576:.1f} MB). Pick a smaller repository, "
            "or ask an administrator to raise the size limit."
        )

    # -- running git -----------------------------------------------------------------------

    def run(self, args: list[str], *, watch: Path | None = None) -> str:
        if time.monotonic() >= self.deadline:
            raise self._timeout()
        try:
            proc = subprocess.Popen(
                ["git", *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # so a timeout can kill git's helpers too
            )
        except FileNotFoundError:
            raise Upstream("git is not installed on the server, so repositories cannot be cloned.") from None
        try:
            while True:
                left = self.deadline - time.monotonic()
                try:
                    out, err = proc.communicate(timeout=max(0.01, min(left, 0.2)))
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() >= self.deadline:
                        raise self._timeout() from None
                    if watch is not None:
                        fetched = _tree_bytes(watch)
                        if fetched > self.options.max_repo_bytes:
                            raise TooLarge(self._too_large_message(fetched)) from None
        finally:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                proc.communicate()
        if proc.returncode != 0:
            raise self._error(err.decode("utf-8", "replace"))
        return out.decode("utf-8", "replace")

    def _timeout(self) -> CookbookError:
        return UpstreamTimeout(
            f"Fetching {self.label} took longer than {self.options.clone_timeout:g} s and was stopped. "
            "Try again later, or ask an administrator to raise the clone timeout."
        )

    def _error(self, stderr: str) -> CookbookError:
        status = _http_status(stderr)
        if status in (401, 403, 404) and not self.token:
            return AuthRequired(
                f"The GitHub repository {self.label} was not found, or it is private. If it is private, "
                "add a GitHub personal access token (set GITHUB_TOKEN or save it in the Cookbook secrets) "
                "and try again; otherwise check the URL."
            )
        if status == 401:
            return AuthRequired(
                f"GitHub rejected the token while fetching {self.label}. Check that the GITHUB_TOKEN "
                "is valid and has not expired."
            )
        if status == 403:
            return Forbidden(
                f"The GitHub token has no access to {self.label}. Give it read access to the "
                "repository's contents."
            )
        if status == 404:
            return NotFound(
                f"The GitHub repository {self.label} was not found. Check the URL and the token's access."
            )
        if "Remote branch" in stderr and "not found" in stderr:
            return NotFound(f"{self.label} has no branch or tag named '{self.src.ref}'.")
        reason = _last_line(stderr)
        return Upstream(f"Fetching {self.label} failed ({reason}). Try again later.")


def _http_status(stderr: str) -> int | None:
    m = re.search(r"returned error: (\d{3})", stderr)
    if m:
        return int(m.group(1))
    if "could not read Username" in stderr or "Authentication failed" in stderr:
        return 401
    if "Repository not found" in stderr or re.search(r"repository '.*' not found", stderr):
        return 404
    return None


def _last_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    line = lines[-1] if lines else "git exited with an error"
    line = line.removeprefix("fatal: ").removeprefix("error: ")
    return mask_credentials(line[:200])[0]
