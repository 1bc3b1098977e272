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


def notebook_bytes(nb: NotebookNode) -> bytes:
    """The notebook as the UTF-8 bytes of an .ipynb file."""
    text: str = nbformat.writes(nb, version=4)
    return (text + "\n").encode("utf-8")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
