"""Usage examples of a repository: READMEs and their fenced code blocks, example scripts, and a
ranking of all of them (README quick starts and short example scripts first).

Scripts are shortlisted by path and size before any is read, so a repository with thousands of
example files costs only the few dozen that are read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..markdown import CodeBlock, code_blocks, headings, split_lines
from .scan import FileEntry, TextReader

__all__ = [
    "find_readmes",
    "load_readmes",
    "parse_code_blocks",
    "rank_examples",
    "script_candidates",
]

README_NAMES = ("readme.md", "readme.rst", "readme.markdown", "readme.txt", "readme", "readme.mdx")
MAX_READMES = 8
MAX_README_CHARS = 100_000
MAX_SCRIPTS_READ = 40
MAX_SCRIPT_BYTES = 60_000
MAX_EXAMPLES = 40
MAX_EXAMPLE_CHARS = 20_000

EXAMPLE_DIRS = frozenset(
    {
        "examples",
        "example",
        "demo",
        "demos",
        "samples",
        "sample",
        "scripts",
        "tutorials",
        "tutorial",
        "notebooks",
        "quickstart",
        "recipes",
        "cookbook",
        "usage",
        "inference",
        "colab",
    }
)
TEST_DIRS = frozenset({"tests", "test", "testing", "unittests", "benchmarks", "benchmark"})
_USAGE_HEADING = re.compile(
    r"usage|quick ?start|getting started|get started|how to use|example|inference|demo|tutorial|"
    r"run|predict|generat|in python|with (?:transformers|diffusers|pipeline)",
    re.IGNORECASE,
)
_INSTALL_HEADING = re.compile(r"install|setup|requirements|environment", re.IGNORECASE)
_SCRIPT_NAME = re.compile(
    r"^(?:example|demo|quick_?start|inference|infer|predict|generate|sample|usage|app|run|main|"
    r"pipeline|chat|serve|eval)",
    re.IGNORECASE,
)
_RST_CODE = re.compile(r"^\.\. (?:code-block|code|sourcecode)::\s*(\w*)\s*$")
_MODEL_USE = re.compile(r"from_pretrained|pipeline\(|hf_hub_download|snapshot_download|huggingface\.co")
_PY_LANGS = frozenset({"python", "py", "python3", "pycon", "ipython", "jupyter"})
_SHELL_LANGS = frozenset({"bash", "sh", "shell", "console", "zsh", "shell-session", "cmd", "powershell"})


def parse_code_blocks(text: str, *, rst: bool = False) -> list[CodeBlock]:
    """Fenced code blocks (``` or ~~~, or reStructuredText code directives) with their nearest heading."""
    return _rst_code_blocks(text) if rst else code_blocks(text)


def _rst_code_blocks(text: str) -> list[CodeBlock]:
    blocks: list[CodeBlock] = []
    lines = text.splitlines()
    heading = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _RST_CODE.match(line.strip())
        if m:
            i += 1
            body: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                body.append(lines[i])
                i += 1
            code = _dedent(body)
            if code.strip():
                blocks.append(CodeBlock(m.group(1).lower(), code, heading))
            continue
        if i + 1 < len(lines) and line.strip() and re.fullmatch(r"([=\-~^\"'`#*+])\1{2,}\s*", lines[i + 1]):
            heading = line.strip()
        i += 1
    return blocks


def _dedent(lines: list[str]) -> str:
    indents = [len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(ln[cut:] for ln in lines).strip("\n")


def is_usage_heading(heading: str) -> bool:
    return bool(_USAGE_HEADING.search(heading))


def is_install_heading(heading: str) -> bool:
    return bool(_INSTALL_HEADING.search(heading))


def natural_key(path: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting tutorial_2 before tutorial_10."""
    return tuple((1, int(t)) if t.isdigit() else (0, t) for t in re.split(r"(\d+)", path.lower()))


# -- READMEs -----------------------------------------------------------------------------------


def find_readmes(files: Iterable[FileEntry]) -> list[FileEntry]:
    """The root README first, then READMEs of example folders, then other shallow ones."""
    found = [f for f in files if f.kind == "doc" and f.name.lower() in README_NAMES and f.depth <= 3]

    def rank(f: FileEntry) -> tuple[int, int, str]:
        parts = f.path.lower().split("/")[:-1]
        if not parts:
            group = 0
        elif any(p in EXAMPLE_DIRS for p in parts):
            group = 1
        elif any(p in TEST_DIRS for p in parts):
            group = 3
        else:
            group = 2
        return group, f.depth, f.path

    found.sort(key=rank)
    return found[:MAX_READMES]


def load_readmes(entries: list[FileEntry], reader: TextReader, warnings: list[str]) -> list[dict[str, Any]]:
    readmes = []
    for entry in entries:
        text = reader.text(entry.path, MAX_README_CHARS * 4)
        if text is None:
            continue
        if len(text) > MAX_README_CHARS:
            text = text[:MAX_README_CHARS]
            warnings.append(f"{entry.path} is long; only its first {MAX_README_CHARS} characters were used.")
        rst = entry.name.lower().endswith(".rst")
        blocks = parse_code_blocks(text, rst=rst)
        readmes.append({"path": entry.path, "text": text, "code_blocks": [b.to_dict() for b in blocks]})
    return readmes


# -- example scripts ---------------------------------------------------------------------------


def script_candidates(files: Iterable[FileEntry]) -> list[FileEntry]:
    """Python scripts that look like examples, best first, judged by path and size only."""
    scored: list[tuple[float, tuple[tuple[int, int | str], ...], FileEntry]] = []
    for f in files:
        if f.kind != "code" or not f.path.endswith(".py") or f.size == 0:
            continue
        parts = f.path.lower().split("/")
        name = parts[-1]
        if (
            any(p in TEST_DIRS for p in parts[:-1])
            or name.startswith(("test_", "conftest"))
            or name in ("setup.py", "__init__.py", "noxfile.py", "conftest.py", "_version.py")
        ):
            continue
        in_examples = any(p in EXAMPLE_DIRS for p in parts[:-1])
        named = bool(_SCRIPT_NAME.match(name))
        if not (in_examples or (named and f.depth <= 1)):
            continue
        score = 30.0 + (15 if in_examples else 0) + (10 if named else 0) - 2 * f.depth
        if f.size > 20_000:
            score -= 10
        elif f.size < 4_000:
            score += 5
        scored.append((-score, natural_key(f.path), f))
    scored.sort(key=lambda t: (t[0], t[1]))
    return [f for _, _, f in scored]


def _looks_minified(text: str) -> bool:
    lines = text.count("\n") + 1
    return len(text) / lines > 400


def _title_from_docstring(code: str) -> str | None:
    m = re.match(r'\s*(?:#![^\n]*\n)?(?:#[^\n]*\n)*\s*[rRuU]?("""|\'\'\')\s*([^\n]+)', code)
    if not m:
        return None
    title = m.group(2).split(m.group(1), 1)[0].strip().rstrip(".")
    return title[:120] or None


def rank_examples(
    readmes: list[dict[str, Any]],
    scripts: list[FileEntry],
    notebooks: list[dict[str, Any]],
    reader: TextReader,
) -> list[dict[str, str]]:
    """Examples from READMEs, scripts and notebooks, most useful first."""
    ranked: list[tuple[float, int, dict[str, str]]] = []
    order = 0

    def add(score: float, example: dict[str, str]) -> None:
        nonlocal order
        if len(example["code"]) > MAX_EXAMPLE_CHARS:
            example["code"] = example["code"][:MAX_EXAMPLE_CHARS] + "\n# ... (truncated)"
        ranked.append((score, order, example))
        order += 1

    for r_index, readme in enumerate(readmes):
        for b_index, block in enumerate(readme["code_blocks"]):
            lang, code, heading = block["lang"], block["code"], block["heading"]
            if lang and lang not in _PY_LANGS and lang not in _SHELL_LANGS:
                continue
            score = 50.0 - 10 * r_index - 0.5 * b_index
            if is_usage_heading(heading):
                score += 25
            if lang in _PY_LANGS or (not lang and ("import " in code or "(" in code)):
                score += 10
            elif is_install_heading(heading) or code.lstrip().startswith(("pip ", "$ pip", "conda ")):
                score -= 15
            if _MODEL_USE.search(code):
                score += 10
            if len(code) > 4000:
                score -= 10
            title = heading or f"{readme['path']} example {b_index + 1}"
            add(score, {"path": readme["path"], "title": title, "code": code, "kind": "readme", "lang": lang})

    for s_index, entry in enumerate(scripts[:MAX_SCRIPTS_READ]):
        code = reader.text(entry.path, MAX_SCRIPT_BYTES)
        if not code or _looks_minified(code):
            continue
        score = 40.0 - 0.5 * s_index - (5 if entry.size > MAX_SCRIPT_BYTES else 0)
        if _MODEL_USE.search(code):
            score += 10
        if "__main__" in code:
            score += 3
        title = _title_from_docstring(code) or entry.name
        add(score, {"path": entry.path, "title": title, "code": code, "kind": "script", "lang": "python"})

    for n_index, nb in enumerate(notebooks):
        code = "\n\n".join(c["source"] for c in nb["cells"] if c["type"] == "code" and c["source"].strip())
        if not code:
            continue
        title = next(
            (
                heading.title
                for c in nb["cells"]
                if c["type"] == "markdown"
                for heading in headings(split_lines(c["source"]))
                if heading is not None and heading.title
            ),
            nb["path"].rsplit("/", 1)[-1],
        )
        score = 38.0 - 0.5 * n_index
        if any(p in EXAMPLE_DIRS for p in nb["path"].lower().split("/")[:-1]):
            score += 5
        if _MODEL_USE.search(code):
            score += 10
        add(
            score,
            {"path": nb["path"], "title": title[:120], "code": code, "kind": "notebook", "lang": "python"},
        )

    # Variety: each further example from the same file counts a little less.
    ranked.sort(key=lambda t: (-t[0], t[1]))
    seen: dict[str, int] = {}
    varied = []
    for score, n, example in ranked:
        k = seen.get(example["path"], 0)
        seen[example["path"]] = k + 1
        varied.append((score - 4 * k, n, example))
    varied.sort(key=lambda t: (-t[0], t[1]))
    return [example for _, _, example in varied[:MAX_EXAMPLES]]
