"""How the offline provider reads a code snippet: which words it is about (for BM25 relevance to
the request), which names it defines and which it uses (so a snippet runs after the one it
builds on), and where its string literals sit (so a repair can rewrite one in place)."""

from __future__ import annotations

import ast
import builtins
import functools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

__all__ = [
    "SnippetNames",
    "bm25_scores",
    "code_words",
    "names",
    "parse_cell",
    "first_line",
    "gist",
    "replace_constants",
    "string_literals",
    "words",
]

# Words that say nothing about which snippet fits a request ("find which of five sentences...").
_STOP = frozenset(
    """
    a about above after again all also am an and any are as at be because been before being below
    best between both but by can could did do does doing done down during each even every few find
    for from further get gets give go had has have having he her here hers him his how i if in into
    is it its itself just let lets like make makes me more most much my need no nor not now of off
    on once one only or other our out over own please same see she should show shows so some such
    than that the their them then there these they this those through to too try two three four
    five six under until up us use used uses using very want was way we well were what when where
    which while who whom why will with would you your
    """.split()
)
_BUILTINS = frozenset(dir(builtins)) | {"self", "cls", "__name__", "__file__", "get_ipython", "display"}
# camelCase and snake_case split into words; digits on their own.
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_MAGIC_LINE = re.compile(r"^(\s*)(?:[!%]|\w+\s*=\s*!)")


@functools.lru_cache(maxsize=8192)
def _stem(word: str) -> str:
    """A light, deterministic stemmer: enough for "sentences" to meet "sentence", "matches" to meet
    "match", "embedding" to meet "embed", "summarize" to meet "summarise"."""
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith("es") and word[-3] in "sxz" or word.endswith(("ches", "shes")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 6 and word.endswith("ation"):
        word = word[:-3]  # translation -> translat, as translate and translated become
    for suffix in ("ing", "ed"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # embedd -> embed
            break
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return re.sub(r"iz$", "is", word)


def words(text: str) -> list[str]:
    """The searchable words of prose, a path or an identifier, stemmed, without stop words."""
    out = []
    for raw in _WORD.findall(text or ""):
        word = raw.lower()
        if len(word) < 2 or word in _STOP:
            continue
        out.append(_stem(word))
    return out


def bm25_scores(documents: Sequence[Sequence[str]], query: Sequence[str]) -> list[float]:
    """Okapi BM25 (k1 = 1.5, b = 0.75) of each document for the query's words.

    The inverse document frequency is Robertson and Spärck Jones's, counted as if the collection
    held one more document that matches nothing, and never below zero: a word most candidates
    share cannot tell them apart and scores nothing, while with only two candidates a word one of
    them has still counts. A query word repeated weighs more. All zero: the caller's order stands.
    """
    n = len(documents)
    if not n or not query:
        return [0.0] * n
    lengths = [len(d) for d in documents]
    average = sum(lengths) / n or 1.0
    counts = [Counter(d) for d in documents]
    df = Counter(word for c in counts for word in c)
    k1, b = 1.5, 0.75
    scores = []
    for count, length in zip(counts, lengths, strict=True):
        score = 0.0
        for word in query:
            tf = count.get(word, 0)
            if not tf:
                continue
            idf = max(0.0, math.log((n + 1 - df[word] + 0.5) / (df[word] + 0.5)))
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))
        scores.append(score)
    return scores


# -- the code itself ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def parse_cell(code: str) -> ast.Module | None:
    """The cell as Python, with IPython's `%magic` and `!shell` lines read as `pass` (so every
    other line keeps its position); None when it does not parse even so. Cached (planning reads
    each snippet several ways): callers must not change the tree."""
    lines = [(m.group(1) + "pass") if (m := _MAGIC_LINE.match(line)) else line for line in code.splitlines()]
    try:
        tree = compile(
            "\n".join(lines),
            "<snippet>",
            "exec",
            flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
            dont_inherit=True,
        )
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return tree if isinstance(tree, ast.Module) else None


def code_words(code: str) -> list[str]:
    """What the code is about, for relevance: its identifiers (attribute and keyword names too),
    imported modules, its docstrings and comments, but no other string literal (sample sentences
    and URLs say little about what a snippet does)."""
    tree = parse_cell(code)
    if tree is None:
        return words(" ".join(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code)))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in _BUILTINS:
            found.append(node.id)
        elif isinstance(node, ast.Attribute):
            found.append(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            found.append(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found.extend(alias.name for alias in node.names)
            if isinstance(node, ast.ImportFrom) and node.module:
                found.append(node.module)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if not isinstance(node, ast.Module):
                found.append(node.name)
            doc = ast.get_docstring(node)
            if doc:
                found.append(doc)
    found.extend(re.findall(r"#\s*(.+)", code))
    return words(" ".join(found))


@dataclass(frozen=True)
class SnippetNames:
    """Names a snippet binds at its top level, and names it reads that it did not bind first."""

    defines: frozenset[str]
    uses: frozenset[str]


def names(code: str) -> SnippetNames:
    """What `code` defines and what it uses from elsewhere (builtins left out). A name a statement
    reads before any earlier statement of the snippet bound it comes from elsewhere: an earlier
    snippet, presumably."""
    tree = parse_cell(code)
    if tree is None:
        return SnippetNames(frozenset(), frozenset())
    defined: set[str] = set()
    uses: set[str] = set()
    for statement in tree.body:
        loads, stores = _loads_and_stores(statement)
        uses |= loads - stores - defined - _BUILTINS
        defined |= _top_level_bindings(statement)
    return SnippetNames(frozenset(defined), frozenset(uses))


def _loads_and_stores(statement: ast.stmt) -> tuple[set[str], set[str]]:
    loads: set[str] = set()
    stores: set[str] = set()
    for node in ast.walk(statement):
        if isinstance(node, ast.Name):
            (loads if isinstance(node.ctx, ast.Load) else stores).add(node.id)
        elif isinstance(node, ast.arg):
            stores.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stores.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            stores.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            stores.add(node.name)
    return loads, stores


def _top_level_bindings(statement: ast.stmt) -> set[str]:
    """Names bound in the module's own scope (not inside a function or class body)."""
    found: set[str] = set()
    todo: list[ast.AST] = [statement]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            found.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            found.add(node.name)
        todo.extend(ast.iter_child_nodes(node))
    return found


def gist(code: str) -> str | None:
    """The call a snippet ends on (`model.similarity`), to tell apart snippets with one heading."""
    tree = parse_cell(code)
    if tree is None:
        return None
    for statement in reversed(tree.body):
        value = getattr(statement, "value", None)
        if isinstance(value, ast.Call):
            if _dotted(value.func) == "print" and value.args and isinstance(value.args[0], ast.Call):
                value = value.args[0]
            name = _dotted(value.func)
            if name and name != "print":
                return name
    return None


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    return None


# -- rewriting literals ------------------------------------------------------------------------


def replace_constants(
    code: str,
    replacement: Callable[[ast.Constant, list[ast.AST]], str | None],
) -> tuple[str, int]:
    """`code` with each string literal for which `replacement(node, ancestors)` returns source
    text replaced by that text, and how many were replaced. Literals inside f-strings stay."""
    tree = parse_cell(code)
    if tree is None:
        return code, 0
    edits: list[tuple[int, int, str]] = []
    starts = _line_starts(code)
    for node, ancestors in _walk_with_ancestors(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if any(isinstance(a, ast.JoinedStr) for a in ancestors) or node.end_lineno is None:
            continue
        new = replacement(node, ancestors)
        if new is None:
            continue
        start = _offset(code, starts, node.lineno, node.col_offset)
        end = _offset(code, starts, node.end_lineno, node.end_col_offset or 0)
        edits.append((start, end, new))
    for start, end, new in sorted(edits, reverse=True):
        code = code[:start] + new + code[end:]
    return code, len(edits)


def string_literals(code: str) -> set[str]:
    """The values of the string literals in `code` (outside f-strings)."""
    tree = parse_cell(code)
    if tree is None:
        return set()
    return {
        node.value
        for node, ancestors in _walk_with_ancestors(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and not any(isinstance(a, ast.JoinedStr) for a in ancestors)
    }


def _walk_with_ancestors(tree: ast.AST) -> Iterator[tuple[ast.AST, list[ast.AST]]]:
    todo: list[tuple[ast.AST, list[ast.AST]]] = [(tree, [])]
    while todo:
        node, ancestors = todo.pop()
        yield node, ancestors
        todo.extend((child, [*ancestors, node]) for child in ast.iter_child_nodes(node))


def _line_starts(code: str) -> list[int]:
    starts = [0]
    for line in code.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def _offset(code: str, starts: list[int], lineno: int, col: int) -> int:
    # ast columns count UTF-8 bytes; the string is indexed by characters.
    line_start = starts[lineno - 1]
    line = code[line_start : starts[lineno] if lineno < len(starts) else len(code)]
    return line_start + len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))


def first_line(texts: Iterable[str | None]) -> str | None:
    """The first non-empty line among `texts`."""
    for text in texts:
        for line in (text or "").splitlines():
            if line.strip():
                return line.strip()
    return None
