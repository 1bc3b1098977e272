"""Find and mask credentials (API tokens, access keys) and secret values in text before it reaches a
prompt or a user; `Redactor` is the one masking every caller uses.

Patterns follow each provider's documented token shape so that ordinary code (``hf_hub_download``,
``sk-learn``, ``task-...``) is left alone. Each pattern runs only when its literal prefix occurs in
the text, which keeps masking cheap on large files that hold no credential.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

__all__ = [
    "MIN_SECRET_CHARS",
    "Finding",
    "Redactor",
    "find_credentials",
    "is_text_mime",
    "mask_credentials",
    "mask_values",
    "redact_obj",
]

# Shorter secret values are not masked: masking "abc" would shred unrelated text.
MIN_SECRET_CHARS = 6

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


def is_text_mime(mime: str) -> bool:
    """Output data that is text (and so may hold a secret to mask); base64 images are not."""
    return mime.startswith("text/") or mime.endswith(("json", "+xml", "/xml", "javascript"))


def _is_binary_mime(key: Any) -> bool:
    return isinstance(key, str) and key.startswith(("image/", "audio/", "video/")) and not is_text_mime(key)


def redact_obj(value: Any, redact: Callable[[str], str]) -> Any:
    """Every string in a JSON-like value through `redact`, except binary output data (base64
    images, audio, video). Structured text output data (``application/json``) is masked as its
    JSON text, keys included.

    Events are stored as this leaves them (nothing walks them again), so only keys that are
    certainly binary media types are skipped."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_item(k, v, redact) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_obj(v, redact) for v in value]
    return value


def _redact_item(key: Any, value: Any, redact: Callable[[str], str]) -> Any:
    if _is_binary_mime(key):
        return value
    if isinstance(value, (dict, list)) and isinstance(key, str) and "/" in key and is_text_mime(key):
        try:
            return json.loads(redact(json.dumps(value)))
        except (TypeError, ValueError):  # not JSON, or a mask that is not JSON-safe: walk it instead
            pass
    return redact_obj(value, redact)


class Redactor:
    """Masks secret values and credential-shaped strings in text, then applies `chained`.

    Each value of at least MIN_SECRET_CHARS characters is masked as written and as repr, JSON and
    URL encoding show it. A value the code transformed (sliced, reversed, base64-encoded) cannot
    be recognised and is not masked.
    """

    def __init__(self, values: Iterable[str] = (), *, chained: Callable[[str], str] | None = None) -> None:
        self._values = tuple(dict.fromkeys(v for v in values if v and len(v) >= MIN_SECRET_CHARS))
        variants: set[str] = set()
        for value in self._values:
            variants.update({value, repr(value)[1:-1], json.dumps(value)[1:-1], quote(value, safe="")})
        self._variants = sorted(variants)
        self._chained = chained

    def __call__(self, text: str) -> str:
        if not text:
            return text
        if self._variants:
            text = mask_values(text, self._variants, min_length=MIN_SECRET_CHARS)
        text = mask_credentials(text)[0]
        return self._chained(text) if self._chained is not None else text

    def obj(self, value: Any) -> Any:
        """`value` with every string masked; see `redact_obj`."""
        return redact_obj(value, self)

    def with_values(self, values: Iterable[str]) -> Redactor:
        """A redactor that also masks `values` (e.g. the secrets granted to a kernel)."""
        return Redactor((*self._values, *values), chained=self._chained)
