"""Guardrails for model-written cells: hardcoded credentials, and what counts as a risky cell.

`check_credentials` finds keys written into a cell (provider token shapes and the user's stored
secret values) and rewrites a key that is a whole string literal into `os.environ["NAME"]`; any
other placement is refused so the model rewrites the cell itself. `classify_risk` names what a
cell does that a user may want to approve first (installs, shell, deleting files outside the
working folder, network calls other than to the Hugging Face Hub).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .redact import find_credentials

ENV_FOR_KIND = {
    "huggingface": "HF_TOKEN",
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "github": "GITHUB_TOKEN",
    "aws": "AWS_SECRET_ACCESS_KEY",
}

APPROVAL_MODES = ("never", "risky", "always")


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


_HUB_HOSTS = ("huggingface.co", "hf.co", "cdn-lfs.huggingface.co", "cdn-lfs.hf.co")
_SHELL_LINE = re.compile(r"^\s*(!|%%?(?:sh|bash|system|script)\b)")
_INSTALL_LINE = re.compile(r"^\s*[!%]\s*(?:pip3?|conda|mamba|uv(?:\s+pip)?|apt(?:-get)?)\s+install\b")
RISK_ORDER = (
    "installs packages",
    "runs shell commands",
    "deletes files outside the working folder",
    "calls the network",
)
_URL = re.compile(r"""https?://([A-Za-z0-9.\-]+)""")
_NET_CALLS = {
    ("requests", "get"),
    ("requests", "post"),
    ("requests", "put"),
    ("requests", "delete"),
    ("requests", "request"),
    ("requests", "patch"),
    ("httpx", "get"),
    ("httpx", "post"),
    ("urllib.request", "urlopen"),
    ("request", "urlopen"),
    ("socket", "socket"),
    ("socket", "create_connection"),
}
_DELETE_CALLS = {
    ("os", "remove"),
    ("os", "unlink"),
    ("os", "rmdir"),
    ("shutil", "rmtree"),
    ("os", "removedirs"),
}
_SHELL_CALLS = {
    ("os", "system"),
    ("os", "popen"),
    ("subprocess", "run"),
    ("subprocess", "call"),
    ("subprocess", "check_call"),
    ("subprocess", "check_output"),
    ("subprocess", "Popen"),
}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _outside_workdir(arg: ast.AST) -> bool:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        p = arg.value
        return p.startswith(("/", "~")) or ".." in p.split("/")
    return True  # a computed path: cannot tell, treat as risky


def _delete_target(node: ast.Call, mod: str, attr: str) -> ast.AST | None | bool:
    """The path a deleting call acts on; None when unknown; False when the call deletes nothing."""
    if (mod, attr) in _DELETE_CALLS:
        return node.args[0] if node.args else None
    if attr in ("unlink", "rmdir") and isinstance(node.func, ast.Attribute):
        owner = node.func.value  # Path("x").unlink()
        if isinstance(owner, ast.Call) and _dotted(owner.func).endswith("Path"):
            return owner.args[0] if owner.args else None
        return None
    return False


def classify_risk(code: str) -> list[str]:
    """Reasons a cell is risky (empty when it is not), in a stable order."""
    reasons: set[str] = set()
    for line in code.splitlines():
        if _INSTALL_LINE.match(line):
            reasons.add("installs packages")
        elif _SHELL_LINE.match(line):
            reasons.add("runs shell commands")
    hosts = {h.lower() for h in _URL.findall(code)}
    foreign = any(not h.endswith(_HUB_HOSTS) for h in hosts)
    try:
        tree: ast.AST | None = ast.parse(_strip_magics(code))
    except SyntaxError:
        tree = None
    for node in ast.walk(tree) if tree is not None else ():
        if not isinstance(node, ast.Call):
            continue
        mod, _, attr = _dotted(node.func).rpartition(".")
        if (mod, attr) in _SHELL_CALLS:
            args = " ".join(ast.unparse(a) for a in node.args)
            reasons.add(
                "installs packages" if re.search(r"\bpip\b.*\binstall\b", args) else "runs shell commands"
            )
        target = _delete_target(node, mod, attr)
        if target is not False and (target is None or _outside_workdir(target)):  # type: ignore[arg-type]
            reasons.add("deletes files outside the working folder")
        if (mod, attr) in _NET_CALLS and foreign:
            reasons.add("calls the network")
    return [r for r in RISK_ORDER if r in reasons]


def _strip_magics(code: str) -> str:
    # IPython magics and shell escapes are not Python: blank them so the rest still parses.
    return "\n".join("" if re.match(r"^\s*[!%]", line) else line for line in code.splitlines())


def needs_approval(mode: str, code: str, cell_type: str = "code") -> list[str]:
    """The reasons to ask the user before running this cell under `mode` (empty: run it)."""
    if cell_type != "code" or mode == "never":
        return []
    reasons = classify_risk(code)
    if mode == "always":
        return reasons or ["every cell is approved by you (approval setting: always)"]
    return reasons
