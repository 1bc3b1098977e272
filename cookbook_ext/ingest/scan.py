"""The file tree of a checkout: walk it once (honouring .gitignore), classify every file by name and
size without reading it, and read text files on demand with a cap and credentials masked.

Classification decides what is worth reading: binaries, vendored code, lock files, data-like text
(tokenizer vocabularies, CSVs) and oversized files are listed but never opened.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from ..errors import TooLarge
from ..redact import mask_credentials

__all__ = [
    "FileEntry",
    "ScanResult",
    "TextReader",
    "classify",
    "is_binary_name",
    "scan_tree",
    "walk_files",
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Listed as one "ignored" entry and never entered, with or without a .gitignore saying so.
PRUNED_DIRS = _words(
    """.hg .svn __pycache__ .ipynb_checkpoints .mypy_cache .pytest_cache .ruff_cache .tox .nox
    node_modules .venv venv .eggs site-packages"""
)
VENDORED_DIRS = _words("vendor vendored _vendor third_party third-party thirdparty 3rdparty external")
LOCK_NAMES = _words(
    """poetry.lock pipfile.lock package-lock.json yarn.lock pnpm-lock.yaml uv.lock cargo.lock
    composer.lock gemfile.lock pdm.lock conda-lock.yml npm-shrinkwrap.json bun.lockb flake.lock pixi.lock"""
)
BINARY_EXT = _words(
    """.png .jpg .jpeg .gif .bmp .ico .webp .tif .tiff .psd .heic
    .mp3 .wav .flac .ogg .m4a .mp4 .mov .avi .mkv .webm
    .ttf .otf .woff .woff2 .eot .pdf .doc .docx .ppt .pptx .xls .xlsx
    .zip .gz .tgz .bz2 .xz .zst .7z .rar .tar .whl .egg .jar
    .so .dll .dylib .a .o .obj .exe .bin .pyc .pyo .pyd .class .wasm .lib
    .safetensors .pt .pth .ckpt .onnx .h5 .hdf5 .pb .tflite .gguf .ggml .npy .npz .pkl .pickle
    .joblib .msgpack .model .mlmodel .engine .plan .params .caffemodel .pdparams
    .parquet .arrow .feather .avro .orc .tfrecord .sqlite .db .lmdb"""
)
DATA_EXT = _words(".csv .tsv .jsonl .ndjson .vocab .dat .log")
DATA_NAMES = _words(
    """vocab.json vocab.txt merges.txt tokenizer.json spiece.model bpe.codes added_tokens.json dict.txt
    encoder.json"""
)
# Text formats that hold data rather than prose or code once they grow past this size.
DATA_LIKE_EXT = _words(".json .txt .xml .svg .yaml .yml .html .htm")
DATA_LIKE_BYTES = 256 * 1024
CODE_EXT = _words(
    """.py .pyi .pyx .pxd .js .mjs .cjs .ts .tsx .jsx .sh .bash .zsh .fish .ps1 .bat .c .cc .cpp .cxx
    .h .hh .hpp .cu .cuh .rs .go .java .kt .scala .jl .r .rb .php .swift .m .mm .lua .pl .sql .cmake
    .mk .proto .metal .triton .zig .dart .cs"""
)
DOC_EXT = _words(".md .markdown .mdx .rst .adoc .asciidoc .org .tex .txt")
DOC_STEMS = _words(
    """readme license licence copying changelog changes contributing notice authors citation history
    security code_of_conduct"""
)
TEXT_EXT = _words(
    """.toml .cfg .ini .yaml .yml .json .jsonc .json5 .xml .html .htm .css .scss .conf .properties
    .in .env .tpl .j2 .jinja .svg .cff"""
)
TEXT_NAMES = _words(
    """dockerfile makefile pipfile procfile jenkinsfile vagrantfile gemfile .python-version
    requirements.txt manifest.in setup.cfg cmakelists.txt .gitignore .gitattributes .dockerignore
    .editorconfig .gitmodules .env"""
)
NOTEBOOK_MAX_BYTES = 5 * 1024 * 1024  # notebooks carry outputs; their code is parsed up to this size
SNIFF_BYTES = 1024

READABLE_KINDS = frozenset({"text", "code", "notebook", "doc"})


@dataclass(slots=True)
class FileEntry:
    path: str  # relative, posix
    size: int
    kind: str  # text|code|notebook|doc|binary|vendored|lock|data|too_large|ignored

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def depth(self) -> int:
        return self.path.count("/")

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "size": self.size, "kind": self.kind}


@dataclass
class ScanResult:
    root: Path
    files: list[FileEntry]
    bytes: int = 0  # of files that are not ignored
    warnings: list[str] = field(default_factory=list)

    def readable(self, *kinds: str) -> list[FileEntry]:
        wanted = set(kinds) if kinds else READABLE_KINDS
        return [f for f in self.files if f.kind in wanted]


def _suffix(name: str) -> str:
    """The extension of a file name, like PurePosixPath.suffix (".bashrc" has none), but cheaper."""
    dot = name.rfind(".")
    return name[dot:] if dot > 0 and dot < len(name) - 1 else ""


def is_binary_name(name: str) -> bool:
    return _suffix(name.lower()) in BINARY_EXT


def classify(path: str, size: int, max_file_bytes: int, sniff: bytes | None = None) -> str:
    """The kind of a file from its path and size (and, for unknown extensions, its first bytes)."""
    parts = path.lower().split("/")
    name = parts[-1]
    suffix = _suffix(name)
    stem = name.split(".", 1)[0]
    if name in LOCK_NAMES or suffix == ".lock":
        return "lock"
    if any(p in VENDORED_DIRS for p in parts[:-1]) or name.endswith((".min.js", ".min.css", ".bundle.js")):
        return "vendored"
    if suffix in BINARY_EXT:
        return "binary"
    if name in DATA_NAMES or suffix in DATA_EXT or (suffix in DATA_LIKE_EXT and size > DATA_LIKE_BYTES):
        return "data"
    if suffix == ".ipynb":
        return "notebook" if size <= max(NOTEBOOK_MAX_BYTES, max_file_bytes) else "too_large"
    if name in TEXT_NAMES or name.startswith(("requirements", "constraints")):
        kind = "text"
    elif suffix in CODE_EXT:
        kind = "code"
    elif stem in DOC_STEMS or suffix in DOC_EXT:
        kind = "doc"
    elif suffix in TEXT_EXT:
        kind = "text"
    elif sniff is not None:
        if b"\0" in sniff:
            return "binary"
        kind = "code" if sniff.startswith(b"#!") else "text"
    else:
        kind = "text"
    return "too_large" if size > max_file_bytes else kind


_KNOWN_EXT = BINARY_EXT | DATA_EXT | CODE_EXT | DOC_EXT | TEXT_EXT | {".ipynb", ".lock"}
_KNOWN_NAMES = TEXT_NAMES | DATA_NAMES | LOCK_NAMES


def _needs_sniff(name: str) -> bool:
    lower = name.lower()
    return not (_suffix(lower) in _KNOWN_EXT or lower in _KNOWN_NAMES or lower.split(".", 1)[0] in DOC_STEMS)


class IgnoreRules:
    """.gitignore files from the root down to one folder; the deepest matching rule wins, as in git."""

    def __init__(self, specs: tuple[tuple[str, pathspec.GitIgnoreSpec], ...] = ()) -> None:
        self.specs = specs

    def with_file(self, rel_dir: str, path: str) -> IgnoreRules:
        """These rules plus the ignore file at `path`, whose patterns are relative to `rel_dir`."""
        try:
            if os.path.islink(path) or not os.path.isfile(path):
                return self
            with open(path, "rb") as fh:
                lines = fh.read(256 * 1024).decode("utf-8", "replace").splitlines()
        except OSError:
            return self
        return IgnoreRules((*self.specs, (rel_dir, pathspec.GitIgnoreSpec.from_lines(lines))))

    def ignored(self, rel: str, is_dir: bool) -> bool:
        verdict: bool | None = None
        for base, spec in self.specs:
            local = rel[len(base) + 1 :] if base else rel
            result = spec.check_file(local + "/" if is_dir else local)
            if result.include is not None:
                verdict = result.include
        return bool(verdict)


def walk_files(root: Path | str, start: str = "") -> Iterable[tuple[str, os.DirEntry[str], str]]:
    """(relative path, entry, state) for everything under `start` in tree order (sorted, depth
    first), never following symbolic links to folders and never entering .git. `state` is "file",
    "ignored" (a .gitignore'd or pruned file or folder, not entered) or "symlink" (pointing outside
    `root` or at a folder; not followed)."""
    root = str(root)
    real_root = os.path.realpath(root)

    def listing(rel_dir: str, rules: IgnoreRules) -> tuple[str, IgnoreRules, Iterator[os.DirEntry[str]]]:
        try:
            with os.scandir(os.path.join(root, rel_dir) if rel_dir else root) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            entries = []
        if any(e.name == ".gitignore" for e in entries):
            rules = rules.with_file(rel_dir, os.path.join(root, rel_dir, ".gitignore"))
        return rel_dir, rules, iter(entries)

    rules = IgnoreRules().with_file("", os.path.join(root, ".git", "info", "exclude"))
    if start:  # the .gitignore files of the folders above `start` apply too
        parts = start.split("/")
        for i in range(len(parts)):
            rel = "/".join(parts[:i])
            rules = rules.with_file(rel, os.path.join(root, rel, ".gitignore"))
    stack = [listing(start, rules)]
    while stack:
        rel_dir, rules, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
        if entry.is_symlink():
            target = os.path.realpath(entry.path)
            inside = target.startswith(real_root + os.sep) and not any(
                p.lower() == ".git" for p in Path(target[len(real_root) + 1 :]).parts
            )  # a link into .git is not followed either
            if inside and os.path.isfile(target) and not rules.ignored(rel, False):
                yield rel, entry, "file"
            else:
                yield rel, entry, "symlink"
        elif entry.is_dir(follow_symlinks=False):
            if entry.name == ".git":
                continue
            if entry.name in PRUNED_DIRS or entry.name.endswith(".egg-info") or rules.ignored(rel, True):
                yield rel + "/", entry, "ignored"
            else:
                stack.append(listing(rel, rules))
        elif entry.is_file(follow_symlinks=False):
            yield rel, entry, "ignored" if rules.ignored(rel, False) else "file"


def scan_tree(root: Path, *, max_files: int, max_bytes: int, max_file_bytes: int, label: str) -> ScanResult:
    """List and classify every file under `root`.

    Raises TooLarge as soon as the files that are not ignored exceed `max_files` or `max_bytes`,
    so pointing at a huge folder costs little.
    """
    files: list[FileEntry] = []
    total = 0
    count = 0
    outside = 0
    for rel, entry, state in walk_files(root):
        if state == "ignored":
            size = 0
            if not rel.endswith("/"):
                try:
                    size = entry.stat(follow_symlinks=False).st_size
                except OSError:
                    pass
            files.append(FileEntry(rel, size, "ignored"))
            continue
        if state == "symlink":
            outside += 1
            files.append(FileEntry(rel, 0, "ignored"))
            continue
        try:
            st = entry.stat()  # follows an in-repo symlink to its file
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        count += 1
        total += st.st_size
        if count > max_files:
            raise TooLarge(
                f"{label} has more than {max_files} files. Pick a smaller repository or folder, "
                "or ask an administrator to raise the file limit."
            )
        if total > max_bytes:
            raise TooLarge(
                f"{label} is larger than the limit of {max_bytes / 1048576:g} MB. Pick a smaller repository "
                "or folder, or ask an administrator to raise the size limit."
            )
        sniff = None
        if _needs_sniff(entry.name) and 0 < st.st_size:
            try:
                with open(entry.path, "rb") as fh:
                    sniff = fh.read(SNIFF_BYTES)
            except OSError:
                sniff = b"\0"
        files.append(FileEntry(rel, st.st_size, classify(rel, st.st_size, max_file_bytes, sniff)))
    result = ScanResult(root=Path(root), files=files, bytes=total)
    if outside:
        result.warnings.append(
            f"{outside} symbolic link(s) point outside the repository or at folders and were not followed."
        )
    return result


class TextReader:
    """Reads repository files as text: capped, decoded leniently, credentials masked, each file once."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.read_paths: set[str] = set()
        self.masked = 0
        self._cache: dict[str, str | None] = {}

    def raw(self, rel: str, limit: int | None = None) -> bytes | None:
        """Up to `limit` (default max_bytes) bytes of a file, or None if it cannot be read."""
        self.read_paths.add(rel)
        try:
            with open(self.root / rel, "rb") as fh:
                return fh.read(limit if limit is not None else self.max_bytes)
        except OSError:
            return None

    def text(self, rel: str, limit: int | None = None) -> str | None:
        """The file as masked text; None for unreadable or binary content."""
        if rel in self._cache:
            return self._cache[rel]
        data = self.raw(rel, limit)
        text = None if data is None or b"\0" in data[:8192] else decode(data)
        if text is not None:
            text, n = mask_credentials(text)
            self.masked += n
        self._cache[rel] = text
        return text


def decode(data: bytes) -> str:
    """UTF-8 (with a BOM or not); undecodable bytes become U+FFFD instead of failing."""
    return data.decode("utf-8-sig", "replace")
