"""Offline token counting: a fast, deterministic estimate of BPE token counts (cl100k-like).

Real tokenizers (tiktoken) download their vocabularies at run time, which a server without internet
cannot do, so budgets are kept with this estimator instead. It splits text the way GPT-style
pre-tokenizers do (words, digit groups, punctuation runs, whitespace runs) and charges each piece
what a BPE vocabulary typically charges for it. It errs slightly high so that a pack built under a
budget stays under the real tokenizer's count too.
"""

from __future__ import annotations

import math
import re

__all__ = ["count_tokens", "truncate_to_tokens"]

# One alternative per piece class; the group that matched tells the cost function what it has.
# Letters exclude digits and "_" so identifiers split like BPE splits them (from / _ / pretrained).
_PIECE = re.compile(
    r"(?P<word> ?[^\W\d_]+)"
    r"|(?P<num> ?\d+)"
    r"|(?P<nl>[ \t]*(?:\r?\n)+)"
    r"|(?P<space>[ \t\f\v]+)"
    r"|(?P<punct> ?(?:[^\s\w]|_)+)"
    r"|(?P<other>\s)"
)

_CJK_START = 0x2E80  # CJK, kana, hangul and later blocks: roughly one token per character or more


def _word_cost(piece: str) -> int:
    word = piece.lstrip(" ")
    n = len(word)
    if not word.isascii():
        cjk = sum(1 for ch in word if ord(ch) >= _CJK_START)
        # Accented Latin/Cyrillic words are split into ~3-character pieces; CJK about 1 per char.
        return max(1, cjk + math.ceil((n - cjk) / 3))
    if n <= 8:
        return 1
    if n <= 12:
        return 2
    return math.ceil(n / 4)


def _piece_cost(kind: str | None, piece: str) -> int:
    if kind == "word":
        return _word_cost(piece)
    if kind == "num":
        # cl100k groups digits by three.
        return math.ceil(len(piece.lstrip(" ")) / 3)
    if kind in ("nl", "other"):
        return 1
    if kind == "space":
        # Indentation runs merge into one token up to a point.
        return 1 + len(piece) // 16
    # punctuation: short runs such as '("' or '):' are single tokens, long runs split.
    return 1 + (len(piece) - 1) // 3


def count_tokens(text: str) -> int:
    """Estimated number of tokens in `text`."""
    if not text:
        return 0
    total = 0
    for m in _PIECE.finditer(text):
        total += _piece_cost(m.lastgroup, m.group())
    return total


def truncate_to_tokens(text: str, n: int) -> str:
    """The longest prefix of `text` (cut at a piece boundary) whose estimate is at most `n` tokens."""
    if n <= 0 or not text:
        return ""
    total = 0
    end = 0
    for m in _PIECE.finditer(text):
        cost = _piece_cost(m.lastgroup, m.group())
        if total + cost > n:
            return text[:end]
        total += cost
        end = m.end()
    return text
