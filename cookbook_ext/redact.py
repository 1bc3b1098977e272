"""Find and mask credentials (API tokens, access keys) in text before it reaches a prompt or a user.

Patterns follow each provider's documented token shape so that ordinary code (``hf_hub_download``,
``sk-learn``, ``task-...``) is left alone. Each pattern runs only when its literal prefix occurs in
the text, which keeps masking cheap on large files that hold no credential.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Finding", "find_credentials", "mask_credentials", "mask_values"]

# A token never continues an identifier: these characters may not touch its start or end.
_B = r"(?<![A-Za-z0-9_\-])"
_E = r"(?![A-Za-z0-9_\-])"


@dataclass(frozen=True)
class _Rule:
    kind: str
    prefixes: tuple[str, ...]  # literal markers; the regex runs only if one is present
    regex: re.Pattern[str]
    group: int = 0  # which group is the secret (the rest of the match is context, kept as is)


_RULES: tuple[_Rule, ...] = (
    _Rule("huggingface", ("hf_",), re.compile(_B + r"hf_[A-Za-z0-9]{30,}" + _E)),
    # Anthropic before OpenAI: both start with "sk-".
    _Rule("anthropic", ("sk-ant-",), re.compile(_B + r"sk-ant-[A-Za-z0-9_\-]{20,}" + _E)),
    _Rule(
        "openai",
        ("sk-",),
        # Project/service/admin keys carry "-" and "_"; legacy keys are 32+ plain alphanumerics.
        re.compile(_B + r"sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20,}|[A-Za-z0-9]{32,})" + _E),
    ),
    _Rule(
        "github",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        re.compile(_B + r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})" + _E),
    ),
    _Rule("aws", ("AKIA", "ASIA"), re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")),
    _Rule(
        "aws",
        ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY", "aws_secret_key", "AWS_SECRET_KEY"),
        re.compile(
            r"(?i:aws_secret(?:_access)?_key)[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
        ),
        group=1,
    ),
)


@dataclass(frozen=True)
class Finding:
    """Where a credential sits in a text. The secret itself is deliberately not kept."""

    kind: str
    start: int
    end: int
    line: int


def _spans(text: str) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    for rule in _RULES:
        if not any(p in text for p in rule.prefixes):
            continue
        for m in rule.regex.finditer(text):
            spans.append((m.start(rule.group), m.end(rule.group), rule.kind))
    if len(spans) < 2:
        return spans
    # Rules may overlap (an AWS key id inside a longer token): keep the earliest span so the
    # masked text stays well-formed.
    spans.sort()
    kept = [spans[0]]
    for span in spans[1:]:
        if span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


def find_credentials(text: str) -> list[Finding]:
    """Credentials in `text`, in order of position."""
    return [Finding(kind, s, e, text.count("\n", 0, s) + 1) for s, e, kind in _spans(text)]


def mask_credentials(text: str) -> tuple[str, int]:
    """`text` with each credential replaced by ``[REDACTED:<kind>]``, and how many were masked."""
    spans = _spans(text)
    if not spans:
        return text, 0
    out: list[str] = []
    pos = 0
    for start, end, kind in spans:
        out.append(text[pos:start])
        out.append(f"[REDACTED:{kind}]")
        pos = end
    out.append(text[pos:])
    return "".join(out), len(spans)


def mask_values(text: str, values: Iterable[str], *, min_length: int = 4) -> str:
    """`text` with every occurrence of each literal value (e.g. a stored secret) masked.

    Values shorter than `min_length` are ignored: masking "" or "ab" would shred unrelated text,
    and no real secret is that short.
    """
    wanted = sorted({v for v in values if v and len(v) >= min_length}, key=len, reverse=True)
    wanted = [v for v in wanted if v in text]
    if not wanted:
        return text
    # Longest first, so a secret that contains another is masked whole.
    pattern = re.compile("|".join(re.escape(v) for v in wanted))
    return pattern.sub("[REDACTED:secret]", text)
