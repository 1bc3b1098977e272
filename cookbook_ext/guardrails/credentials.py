"""Hardcoded credentials in a cell: `check_credentials` finds keys written into a cell (provider token
shapes and the user's stored secret values) and rewrites a key that is a whole string literal into
`os.environ["NAME"]`; any other placement is refused so the model rewrites the cell itself."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..redact import find_credentials

ENV_FOR_KIND = {
    "huggingface": "HF_TOKEN",
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "github": "GITHUB_TOKEN",
    "aws": "AWS_SECRET_ACCESS_KEY",
}


@dataclass
class CredentialCheck:
    code: str  # the cell to use (rewritten when that was possible)
    rewritten: list[str] = field(default_factory=list)  # env var names now read from os.environ
    refused: str | None = None  # why the cell cannot be used as it is


def _string_literals(tree: ast.AST) -> list[ast.Constant]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _offsets(code: str) -> list[int]:
    starts, pos = [0], 0
    for line in code.splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


def check_credentials(code: str, secrets: Mapping[str, str] | None = None) -> CredentialCheck:
    """Find hardcoded credentials in a cell; rewrite whole-literal ones to read the environment."""
    secrets = {k: v for k, v in (secrets or {}).items() if v and len(v) >= 6}
    found: dict[str, str] = {}  # literal text -> env var name; a stored secret's own name wins
    for f in find_credentials(code):
        found.setdefault(code[f.start : f.end], ENV_FOR_KIND.get(f.kind, "API_KEY"))
    for name, value in secrets.items():
        if value in code:
            found[value] = name
    hits = list(found.items())
    if not hits:
        return CredentialCheck(code)
    refusal = (
        "This cell contains a hardcoded credential. Never write keys into a cell: read them with "
        'os.environ["NAME"] ({names}).'
    ).format(names=", ".join(sorted({n for _, n in hits})))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return CredentialCheck(code, refused=refusal)
    starts = _offsets(code)
    edits: list[tuple[int, int, str]] = []
    for node in _string_literals(tree):
        for secret, name in hits:
            if node.value == secret and node.end_lineno is not None and node.end_col_offset is not None:
                start = starts[node.lineno - 1] + _char_col(code, starts, node.lineno, node.col_offset)
                end = starts[node.end_lineno - 1] + _char_col(
                    code, starts, node.end_lineno, node.end_col_offset
                )
                edits.append((start, end, name))
    new = code
    for start, end, name in sorted(edits, reverse=True):
        new = new[:start] + f'os.environ["{name}"]' + new[end:]
    if any(secret in new for secret, _ in hits):
        return CredentialCheck(code, refused=refusal)
    if not re.search(r"^\s*import os\b|^\s*import .*\bos\b", new, re.M):
        new = "import os\n" + new
    return CredentialCheck(new, rewritten=sorted({n for _, n in hits}))


def _char_col(code: str, starts: list[int], lineno: int, byte_col: int) -> int:
    # ast columns are UTF-8 byte offsets.
    line = code[starts[lineno - 1] : starts[lineno]] if lineno < len(starts) else code[starts[lineno - 1] :]
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))
