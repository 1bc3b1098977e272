"""Deterministic repairs the offline provider tries on a snippet that failed, before dropping it.

Each reads the error the kernel reported and rewrites the cell: a missing module is installed
(under its distribution's name, only when the repository declares it or the name is well known:
a guessed name could be anyone's package), a missing input file becomes the repository's own file
at that path, a sample of the same kind the repository ships or a small generated one, and code
asking for CUDA runs on the CPU. The cell says in a comment what was changed and why.
"""

from __future__ import annotations

import ast
import posixpath
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..requirements import distribution_for
from .snippets import replace_constants, string_literals

__all__ = ["Repair", "RepairContext", "propose"]

MAX_REPAIRS = 2  # per cell: then it is dropped like any failing snippet

_NO_MODULE = re.compile(r"No module named '([A-Za-z_][\w.]*)'")
_NO_FILE = re.compile(r"(?:No such file or directory|Error opening|does not exist)[:\s]*(['\"])(.+?)\1")
_CUDA = re.compile(r"cuda|nvidia", re.IGNORECASE)
_CUDA_DEVICE = re.compile(r"cuda(?::\d+)?", re.IGNORECASE)
_DISTRIBUTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

_KINDS = {
    "csv": (".csv", ".tsv"),
    "text": (".txt", ".md"),
    "json": (".json", ".jsonl"),
    "audio": (".wav", ".flac", ".mp3", ".ogg"),
    "image": (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"),
}
# Folders a repository keeps its sample inputs in: a file there is the likelier stand-in.
_SAMPLE_DIRS = frozenset({"sample", "samples", "data", "assets", "examples", "example", "fixtures", "media"})


@dataclass(frozen=True)
class Repair:
    kind: str  # missing_module | relative_path | sample_file | generated_file | cpu_fallback
    detail: str  # what was done, for the `repair` event and the notebook's markdown
    code: str  # the cell's new source
    key: str  # the same repair is never tried twice on one cell


@dataclass(frozen=True)
class RepairContext:
    """What the provider knows about the repository when a snippet fails."""

    files: tuple[str, ...] = ()  # the repository's files, relative to its root
    repo_dir: bool = False  # REPO_DIR names the checkout in the kernel (the setup cell ran)
    snippet_path: str | None = None  # the repository file the snippet comes from
    declared: tuple[str, ...] = ()  # the distributions the repository declares it needs
    own_modules: frozenset[str] = field(default_factory=frozenset)  # the repository's own packages


def propose(
    code: str, error: dict[str, Any] | None, context: RepairContext, tried: Iterable[str]
) -> Repair | None:
    """The repair for `error` (the execute result's {ename, evalue, traceback}), or None."""
    if not error:
        return None
    done = set(tried)
    ename = str(error.get("ename") or "")
    evalue = str(error.get("evalue") or "")
    for repair in (
        _missing_module(code, ename, evalue, context),
        _missing_file(code, ename, evalue, context),
        _cpu_fallback(code, ename, evalue),
    ):
        if repair is not None and repair.key not in done:
            return repair
    return None


# -- a missing module ------------------------------------------------------------------------------


def _missing_module(code: str, ename: str, evalue: str, context: RepairContext) -> Repair | None:
    match = _NO_MODULE.search(evalue)
    if ename not in ("ModuleNotFoundError", "ImportError") or match is None:
        return None
    module = match.group(1).split(".")[0]
    if module in context.own_modules:
        return None  # the repository's own package: not something to fetch from an index
    distribution = distribution_for(module, context.declared)
    if distribution is None or not _DISTRIBUTION.match(distribution):
        return None
    requirement = shlex.quote(distribution)
    prelude = f"""\
# Cookbook: `import {module}` needs the {distribution} package, which this kernel did not have.
import importlib
import importlib.util

if importlib.util.find_spec({module!r}) is None:
    %pip install -q {requirement}
    importlib.invalidate_caches()
if importlib.util.find_spec({module!r}) is None:
    raise ModuleNotFoundError(
        "pip could not install {distribution} (for `import {module}`); see its output above."
    )

"""
    return Repair(
        kind="missing_module",
        detail=f"installs {distribution}, which provides the missing module {module}",
        code=prelude + code,
        key=f"missing_module:{module}",
    )


# -- a missing input file --------------------------------------------------------------------------


def _missing_file(code: str, ename: str, evalue: str, context: RepairContext) -> Repair | None:
    match = _NO_FILE.search(evalue)
    if match is None or ename in ("ModuleNotFoundError", "ImportError"):
        return None
    missing = match.group(2)
    literal = _literal_for(code, missing)
    if literal is None:
        return None  # the path is built at run time: nothing in the cell to point elsewhere
    if context.repo_dir and not literal.startswith("/"):
        found = _in_repository(literal, context)
        if found is not None:
            return _point_at_repository(
                code,
                literal,
                found,
                kind="relative_path",
                detail=f"resolves {literal!r} against the repository: {found}",
            )
    suffix = posixpath.splitext(literal)[1].lower()
    kind = next((k for k, suffixes in _KINDS.items() if suffix in suffixes), None)
    if kind is None:
        return None
    if context.repo_dir:
        sample = _sample_of(kind, suffix, context)
        if sample is not None:
            return _point_at_repository(
                code,
                literal,
                sample,
                kind="sample_file",
                detail=f"{literal!r} is not here; the repository's {sample} ({kind}) stands in",
            )
    generated = _GENERATORS.get(suffix)
    if generated is None:
        return None
    variable = _free_name(code, "sample_path")
    name = posixpath.basename(literal) or f"sample{suffix}"
    prelude = (
        f"# Cookbook: {literal!r} is not here; a small generated {kind} file stands in.\n"
        + generated(variable, name)
        + "\n"
    )
    new_code, count = _replace_literal(code, literal, f"str({variable})")
    if not count:
        return None
    return Repair(
        kind="generated_file",
        detail=f"{literal!r} is not here; a small generated {kind} file stands in",
        code=prelude + new_code,
        key=f"file:{literal}",
    )


def _literal_for(code: str, missing: str) -> str | None:
    """The string literal in `code` naming the missing path: the path itself, or a file name
    it ends with (the error may show the path joined to a folder the code computed)."""
    values = string_literals(code)
    if missing in values:
        return missing
    for value in sorted(values, key=len, reverse=True):
        tail = posixpath.normpath(value) if value else ""
        if tail and "." in posixpath.basename(tail) and missing.endswith("/" + tail):
            return value
    return None


def _in_repository(literal: str, context: RepairContext) -> str | None:
    """The repository file `literal` means: next to the snippet's own file first, then the one
    with that path under any folder (the shallowest)."""
    relative = posixpath.normpath(literal)
    base = posixpath.dirname(context.snippet_path or "")
    beside = posixpath.normpath(posixpath.join(base, relative))
    if beside in context.files:
        return beside
    if relative.startswith(".."):
        return None
    found = [p for p in context.files if p == relative or p.endswith("/" + relative)]
    return min(found, key=lambda p: (p.count("/"), p)) if found else None


def _sample_of(kind: str, suffix: str, context: RepairContext) -> str | None:
    suffixes = _KINDS[kind]
    found = [p for p in context.files if posixpath.splitext(p)[1].lower() in suffixes]
    if not found:
        return None

    def rank(path: str) -> tuple[int, int, int, str]:
        folders = {part.lower() for part in path.split("/")[:-1]}
        return (
            0 if path.lower().endswith(suffix) else 1,
            0 if folders & _SAMPLE_DIRS else 1,
            path.count("/"),
            path,
        )

    return min(found, key=rank)


def _point_at_repository(code: str, literal: str, path: str, *, kind: str, detail: str) -> Repair | None:
    new_code, count = _replace_literal(code, literal, f"str(REPO_DIR / {path!r})")
    if not count:
        return None
    return Repair(kind=kind, detail=detail, code=f"# Cookbook: {detail}.\n{new_code}", key=f"file:{literal}")


def _replace_literal(code: str, literal: str, expression: str) -> tuple[str, int]:
    return replace_constants(code, lambda node, _a: expression if node.value == literal else None)


def _free_name(code: str, base: str) -> str:
    name, n = base, 1
    while re.search(rf"\b{name}\b", code):
        n += 1
        name = f"{base}_{n}"
    return name


def _csv(variable: str, name: str) -> str:
    sep = "\\t" if name.endswith(".tsv") else ","
    rows = [
        ("text", "label"),
        ("The service was quick and friendly.", "positive"),
        ("The parcel arrived broken.", "negative"),
        ("It does what it says.", "positive"),
    ]
    body = "\\n".join(sep.join(row) for row in rows) + "\\n"
    return _file_prelude(variable, name) + f'{variable}.write_text("{body}", encoding="utf-8")\n'


def _text(variable: str, name: str) -> str:
    body = (
        "The quick brown fox jumps over the lazy dog.\\n"
        "Cookbook wrote this small file because the example's own was not there.\\n"
    )
    return _file_prelude(variable, name) + f'{variable}.write_text("{body}", encoding="utf-8")\n'


def _json(variable: str, name: str) -> str:
    records = '[{"text": "The service was quick.", "label": 1}, {"text": "It arrived broken.", "label": 0}]'
    if name.endswith(".jsonl"):
        body = "json.dumps(record) for record in " + records
        return (
            "import json\n"
            + _file_prelude(variable, name)
            + f'{variable}.write_text("\\n".join({body}) + "\\n", encoding="utf-8")\n'
        )
    return "import json\n" + _file_prelude(variable, name) + f"{variable}.write_text(json.dumps({records}))\n"


def _wav(variable: str, name: str) -> str:
    return (
        "import math\nimport struct\nimport wave\n"
        + _file_prelude(variable, name)
        + f"""with wave.open(str({variable}), "wb") as out:  # one second of a 440 Hz tone, 16 kHz mono
    out.setnchannels(1)
    out.setsampwidth(2)
    out.setframerate(16000)
    out.writeframes(
        b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * t / 16000))) for t in range(16000))
    )
"""
    )


def _image(variable: str, name: str) -> str:
    return (
        _file_prelude(variable, name)
        + f"""try:
    from PIL import Image

    Image.new("RGB", (64, 64), (200, 120, 50)).save({variable})
except ImportError:  # a 64x64 PNG written by hand
    import struct
    import zlib

    def _png_chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    _rows = b"".join(b"\\x00" + bytes(v for x in range(64) for v in (4 * x, 4 * y, 128)) for y in range(64))
    {variable}.write_bytes(
        b"\\x89PNG\\r\\n\\x1a\\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(_rows))
        + _png_chunk(b"IEND", b"")
    )
"""
    )


def _file_prelude(variable: str, name: str) -> str:
    return (
        "import tempfile\nfrom pathlib import Path\n\n"
        f'{variable} = Path(tempfile.mkdtemp(prefix="cookbook-")) / {name!r}\n'
    )


_GENERATORS = {
    ".csv": _csv,
    ".tsv": _csv,
    ".txt": _text,
    ".md": _text,
    ".json": _json,
    ".jsonl": _json,
    ".wav": _wav,
    ".png": _image,
    ".jpg": _image,
    ".jpeg": _image,
    ".bmp": _image,
}


# -- CUDA --------------------------------------------------------------------------------------------


def _cpu_fallback(code: str, ename: str, evalue: str) -> Repair | None:
    if not _CUDA.search(f"{ename} {evalue}"):
        return None

    def to_cpu(node: ast.Constant, ancestors: list[ast.AST]) -> str | None:
        # Only where a device is chosen: a comparison with "cuda" still means what it says.
        if not _CUDA_DEVICE.fullmatch(str(node.value)) or any(isinstance(a, ast.Compare) for a in ancestors):
            return None
        return '"cpu"'

    new_code, count = replace_constants(code, to_cpu)
    new_code, calls = re.subn(r"\.cuda\(\s*\)", ".cpu()", new_code)
    if not count + calls:
        return None
    detail = 'no CUDA device here, so it runs on the CPU ("cuda" -> "cpu")'
    return Repair(
        kind="cpu_fallback", detail=detail, code=f"# Cookbook: {detail}.\n{new_code}", key="cpu_fallback"
    )
