"""Build the .ipynb a generation produces: validated cells, in order, with provenance metadata."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

import nbformat
from nbformat import NotebookNode

from . import __version__

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def build_notebook(cells: list[dict[str, Any]], *, provenance: dict[str, Any]) -> NotebookNode:
    """An nbformat v4 notebook of `cells` whose `metadata.cookbook` is `provenance`.

    `provenance` is what provenance.build_provenance makes (generation_id, recipe, repo, hf,
    provider, model, usage, ...); `created_at` and `cookbook_version` are filled in when absent.
    Raises `nbformat.ValidationError` when a cell is not valid v4 (the engine only hands over
    cells it built, so that is a bug, not user input).
    """
    cookbook = {"created_at": _now(), "cookbook_version": __version__, **copy.deepcopy(provenance)}
    nb: NotebookNode = nbformat.v4.new_notebook(
        cells=[nbformat.from_dict(copy.deepcopy(cell)) for cell in cells],
        metadata={
            "kernelspec": dict(KERNELSPEC),
            "language_info": {"name": "python"},
            "cookbook": cookbook,
        },
    )
    nbformat.validate(nb)
    return nb


def clean_cells(cells: list[dict[str, Any]], *, outputs: str = "keep") -> list[dict[str, Any]]:
    """Copies of `cells` to insert or download again: no execution counts (the original run's
    mean nothing in another notebook), and with outputs="clear" no outputs either. With
    outputs kept, each code cell's metadata says they are from the original run."""
    cleaned = []
    for cell in cells:
        cell = copy.deepcopy(cell)
        if cell.get("cell_type") == "code":
            cell["execution_count"] = None
            if outputs == "clear":
                cell["outputs"] = []
            else:
                for output in cell.get("outputs") or []:
                    if "execution_count" in output:
                        output["execution_count"] = None
                if cell.get("outputs"):
                    meta = cell.setdefault("metadata", {}).setdefault("cookbook", {})
                    meta["outputs_from"] = "original_run"
        cleaned.append(cell)
    return cleaned


def download_name(record: dict[str, Any]) -> str:
    """`<repo>-<template>-<date>.ipynb` for a generation record, slugged: e.g.
    tiny-model-quickstart-2026-12-01.ipynb (the date it was made, in the server's time zone)."""
    request = record.get("request") or {}
    repo = (record.get("provenance") or {}).get("repo") or {}
    where = str(repo.get("url") or repo.get("source") or request.get("source") or "")
    name = record.get("repo_name") or where.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    created = record.get("created_at")
    day = datetime.fromtimestamp(created).strftime("%Y-%m-%d") if created else _now()[:10]
    parts = [_slug(str(name or "cookbook")) or "cookbook", _slug(str(request.get("template") or ""))]
    return "-".join(p for p in [*parts, day] if p) + ".ipynb"


def _slug(text: str) -> str:
    """Lower-case ASCII letters, digits and single dashes ("Tiny_Model v2" -> "tiny-model-v2")."""
    out = []
    for ch in text.lower():
        out.append(ch if ch.isascii() and ch.isalnum() else "-")
    return "-".join(part for part in "".join(out).split("-") if part)[:60].strip("-")


def notebook_bytes(nb: NotebookNode) -> bytes:
    """The notebook as the UTF-8 bytes of an .ipynb file."""
    text: str = nbformat.writes(nb, version=4)
    return (text + "\n").encode("utf-8")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
