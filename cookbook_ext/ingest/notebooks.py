"""Jupyter notebooks of a repository as code and markdown only: outputs (images, logs) stripped.

Notebooks are parsed as plain JSON (nbformat 4, and 3's worksheets) up to a size; a malformed
notebook becomes a warning, never an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ..redact import mask_credentials
from .examples import EXAMPLE_DIRS, TEST_DIRS, natural_key
from .scan import NOTEBOOK_MAX_BYTES, FileEntry, TextReader, decode

__all__ = ["MalformedNotebook", "load_notebooks", "parse_notebook"]

MAX_NOTEBOOKS = 30
MAX_CELLS = 300
MAX_NOTEBOOK_SOURCE_CHARS = 200_000


class MalformedNotebook(ValueError):
    pass


def _source(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return ""


def parse_notebook(text: str) -> list[dict[str, str]]:
    """The cells of a notebook as ``{"type", "source"}``; raises MalformedNotebook."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise MalformedNotebook(f"not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise MalformedNotebook("not a notebook (the top level is not an object)")
    raw_cells: Any = data.get("cells")
    if raw_cells is None and isinstance(data.get("worksheets"), list):  # nbformat 3
        raw_cells = [c for ws in data["worksheets"] if isinstance(ws, dict) for c in ws.get("cells") or []]
    if not isinstance(raw_cells, list):
        raise MalformedNotebook("it has no list of cells")
    cells: list[dict[str, str]] = []
    total = 0
    for cell in raw_cells[:MAX_CELLS]:
        if not isinstance(cell, dict):
            continue
        kind = cell.get("cell_type")
        if kind not in ("code", "markdown", "raw", "heading"):
            continue
        source = _source(cell.get("source", cell.get("input")))
        if kind == "heading":
            level = cell.get("level")
            depth = max(1, min(6, level)) if isinstance(level, int) else 1
            kind, source = "markdown", "#" * depth + " " + source
        total += len(source)
        if total > MAX_NOTEBOOK_SOURCE_CHARS:
            break
        cells.append({"type": kind, "source": source})
    return cells


def notebook_candidates(files: Iterable[FileEntry]) -> list[FileEntry]:
    """Notebooks worth parsing: example and tutorial folders first, tests last, shallow first."""
    found = [f for f in files if f.kind == "notebook" and f.size <= NOTEBOOK_MAX_BYTES]

    def rank(f: FileEntry) -> tuple[int, int, tuple[tuple[int, int | str], ...]]:
        parts = f.path.lower().split("/")[:-1]
        if any(p in TEST_DIRS for p in parts):
            group = 2
        elif not parts or any(p in EXAMPLE_DIRS for p in parts):
            group = 0
        else:
            group = 1
        return group, f.depth, natural_key(f.path)

    return sorted(found, key=rank)[:MAX_NOTEBOOKS]


def load_notebooks(entries: list[FileEntry], reader: TextReader, warnings: list[str]) -> list[dict[str, Any]]:
    notebooks = []
    for entry in entries:
        data = reader.raw(entry.path, NOTEBOOK_MAX_BYTES + 1)
        if data is None:
            continue
        try:
            cells = parse_notebook(decode(data))
        except MalformedNotebook as exc:
            warnings.append(f"{entry.path} is not a valid notebook ({exc}); it was skipped.")
            continue
        for cell in cells:
            cell["source"], masked = mask_credentials(cell["source"])
            reader.masked += masked
        notebooks.append({"path": entry.path, "cells": cells})
    return notebooks
