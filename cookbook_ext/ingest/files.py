"""Confined access to files of an ingested checkout (owned by the ingest work; signatures fixed).

Every path is relative to the checkout and must stay inside it: '..', absolute paths, NUL bytes,
.git (by name or where a link resolves) and symbolic links resolving outside are refused. With
`within`, the checkout itself is re-checked on every read against the folders it must live in.
Content comes back as text with credentials masked; binaries are refused and oversized reads are
cut at a line boundary.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import BadRequest, Forbidden, Invalid, NotFound
from ..redact import mask_credentials
from .scan import decode, is_binary_name, walk_files

__all__ = ["list_repo_files", "read_repo_file"]

MAX_LIST_LIMIT = 10_000
_READ_PIECE = 1 << 20


def _is_git(parts: Iterable[str]) -> bool:
    return any(p.lower() == ".git" for p in parts)


def _checked_root(root: Path, within: Iterable[Path] | None) -> Path:
    """The checkout's real path, re-checked on every read: still inside one of `within` (the
    Jupyter root, the clone cache) after any link that replaced it since it was ingested."""
    real_root = Path(os.path.realpath(root))
    if within is not None:
        anchors = [Path(os.path.realpath(a)) for a in within]
        if not any(real_root == a or real_root.is_relative_to(a) for a in anchors):
            raise Forbidden(
                "This repository's checkout is no longer inside the Jupyter root folder or "
                "Cookbook's clone cache (it was moved, or replaced by a link); ingest it again."
            )
    if not real_root.is_dir():
        raise NotFound("This repository's checkout is gone from the disk; ingest it again.")
    return real_root


def _confine(
    root: Path, path: str | None, *, what: str, within: Iterable[Path] | None = None
) -> tuple[Path, str, Path]:
    """(resolved root, normalised relative path, resolved target) or a BadRequest/Forbidden."""
    real_root = _checked_root(root, within)
    if path is None:
        return real_root, "", real_root
    if not isinstance(path, str):
        raise BadRequest(f"The {what} must be a string.")
    text = path.strip()
    if "\x00" in text:
        raise BadRequest(f"The {what} contains a NUL character.")
    norm = text.replace("\\", "/")
    if norm.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", norm):
        raise Forbidden(
            f"Absolute paths are not allowed; give the {what} relative to the repository root, "
            "like src/model.py."
        )
    segments = [s for s in norm.split("/") if s not in ("", ".")]
    if ".." in segments:
        raise Forbidden(f"'..' is not allowed in the {what}; give a path inside the repository.")
    if _is_git(segments):
        raise Forbidden("Files under .git are not available.")
    rel = "/".join(segments)
    target = Path(os.path.realpath(real_root.joinpath(*segments))) if segments else real_root
    if target != real_root and not target.is_relative_to(real_root):
        raise Forbidden(f"'{rel}' is a symbolic link that points outside the repository; it cannot be used.")
    # Checked again on the resolved path: a link (dotgit -> .git) must not lead into .git either.
    if _is_git(target.relative_to(real_root).parts):
        raise Forbidden(
            f"'{rel}' leads into .git (through a symbolic link); files under .git are not available."
        )
    return real_root, rel, target


def read_repo_file(
    root: Path,
    path: str,
    *,
    start_line: int | None = None,
    end_line: int | None = None,
    max_bytes: int = 200_000,
    within: Iterable[Path] | None = None,
) -> dict[str, Any]:
    """A text file of the checkout, optionally a 1-based inclusive line range. With `within`,
    the checkout itself must (still) resolve inside one of those folders.

    Returns ``{"path", "content", "start_line", "end_line", "total_lines", "truncated", "masked"}``.
    """
    _, rel, target = _confine(root, path, what="path", within=within)
    if not rel:
        raise BadRequest("Give the path of a file in the repository, like README.md.")
    for name, value in (("start_line", start_line), ("end_line", end_line)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise BadRequest(f"{name} must be a line number (1 or more).")
    if start_line is not None and end_line is not None and end_line < start_line:
        raise BadRequest("end_line must not be before start_line.")
    if not target.exists():
        raise NotFound(f"There is no file '{rel}' in the repository. List the files to see what is there.")
    if target.is_dir():
        raise BadRequest(f"'{rel}' is a folder; read a file inside it, or list the folder's files.")
    if is_binary_name(target.name):
        raise Invalid(f"'{rel}' is a binary file and cannot be shown as text.")
    max_bytes = max(1, int(max_bytes))

    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(target, flags)
    except OSError:
        raise NotFound(f"The file '{rel}' cannot be opened.") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise BadRequest(f"'{rel}' is not a regular file.")
        if b"\0" in fh.read(8192):
            raise Invalid(f"'{rel}' is a binary file and cannot be shown as text.")
        fh.seek(0)
        content, first, last, total, truncated = _read_range(fh, start_line or 1, end_line, max_bytes)
    if start_line is not None and start_line > max(total, 1):
        raise BadRequest(f"'{rel}' has {total} lines; start_line {start_line} is past the end.")
    text, masked = mask_credentials(decode(content))
    return {
        "path": rel,
        "content": text,
        "start_line": first,
        "end_line": last,
        "total_lines": total,
        "truncated": truncated,
        "masked": masked,
    }


def _read_range(fh: Any, start: int, end: int | None, max_bytes: int) -> tuple[bytes, int, int, int, bool]:
    """(bytes of lines start..end, first line, last line, total lines, truncated), streaming: a huge
    file or a huge single line never sits in memory beyond `max_bytes` plus one read piece."""
    out = bytearray()
    line = 1  # the line the next piece belongs to (a long line arrives in several pieces)
    first = last = 0
    newlines = 0
    ends_with_newline = True
    truncated = False
    while True:
        piece = fh.readline(_READ_PIECE)
        if not piece:
            break
        if line >= start and (end is None or line <= end):
            room = max_bytes - len(out)
            if len(piece) <= room:
                out += piece
                first, last = first or line, line
            else:
                truncated = True
                # Whole lines so far: stop after them, so the caller can continue at end_line + 1.
                # Otherwise (the first line, or one long line) keep what fits of it.
                if not out.endswith(b"\n"):
                    out += piece[:room]
                    first, last = first or line, line
        ends_with_newline = piece.endswith(b"\n")
        if ends_with_newline:
            newlines += 1
            line += 1
        if truncated or (end is not None and line > end):
            rest, tail = _count_newlines(fh)
            newlines += rest
            if tail is not None:
                ends_with_newline = tail
            break
    total = newlines + (0 if ends_with_newline else 1)
    if not first:
        first, last = start, start - 1
    return bytes(out), first, last, total, truncated


def _count_newlines(fh: Any) -> tuple[int, bool | None]:
    count = 0
    last_byte: bool | None = None
    while True:
        chunk = fh.read(_READ_PIECE)
        if not chunk:
            return count, last_byte
        count += chunk.count(b"\n")
        last_byte = chunk.endswith(b"\n")


def list_repo_files(
    root: Path,
    folder: str | None = None,
    pattern: str | None = None,
    limit: int = 2000,
    *,
    within: Iterable[Path] | None = None,
) -> list[str]:
    """Relative posix paths of files under `folder` (default: everything), skipping .git and what
    .gitignore excludes, optionally filtered by a glob `pattern` ("*.py", or "examples/*.py" to
    match the whole path). `within` as for read_repo_file."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIST_LIMIT}.")
    if pattern is not None:
        if not isinstance(pattern, str) or "\x00" in pattern or len(pattern) > 200:
            raise BadRequest("The pattern must be a glob such as *.py (at most 200 characters).")
        pattern = pattern.strip() or None
    real_root, rel, target = _confine(root, folder, what="folder", within=within)
    if not target.exists():
        raise NotFound(f"There is no folder '{rel}' in the repository.")
    if not target.is_dir():
        raise BadRequest(f"'{rel}' is a file, not a folder.")
    start = target.relative_to(real_root).as_posix() if target != real_root else ""
    prefix = start + "/" if start else ""
    found: list[str] = []
    for path, _entry, state in walk_files(real_root, start):
        if state != "file":
            continue
        if pattern is not None:
            if "/" in pattern:
                local = path[len(prefix) :]
                if not (fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(local, pattern)):
                    continue
            elif not fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern):
                continue
        found.append(path)
        if len(found) >= limit:
            break
    return found
