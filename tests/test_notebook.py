"""The notebook a generation produces: valid nbformat v4 with provenance."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

from cookbook_ext import __version__
from cookbook_ext.notebook import build_notebook, notebook_bytes

PROVENANCE = {
    "generation_id": "g1",
    "recipe": {"prompt": "summarise", "template": "quickstart", "topic": None, "complexity": "basic"},
    "repo": {"url": "https://github.com/o/r", "commit": "abc123"},
    "hf": {"id": "o/m", "sha": "def456"},
    "provider": "offline",
    "model": "repository-examples",
    "usage": {"input_tokens": 0, "output_tokens": 0},
}


def _cells() -> list[dict]:
    return [
        new_markdown_cell("# Title", id="cookbook-g1-c1"),
        new_code_cell(
            "print(1)",
            id="cookbook-g1-c2",
            execution_count=1,
            outputs=[new_output("stream", name="stdout", text="1\n")],
        ),
    ]


def test_notebook_is_valid_v4_with_the_cells_in_order():
    nb = build_notebook(_cells(), provenance=PROVENANCE)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert [c.source for c in nb.cells] == ["# Title", "print(1)"]
    assert nb.cells[1].outputs[0].text == "1\n"


def test_notebook_carries_provenance_kernelspec_version_and_time():
    nb = build_notebook(_cells(), provenance=PROVENANCE)
    meta = nb.metadata
    assert meta.kernelspec.name == "python3"
    assert meta.cookbook.repo == {"url": "https://github.com/o/r", "commit": "abc123"}
    assert meta.cookbook.hf.sha == "def456"
    assert meta.cookbook.recipe.template == "quickstart"
    assert meta.cookbook.cookbook_version == __version__
    assert meta.cookbook.created_at.endswith("+00:00")


def test_building_does_not_modify_the_callers_cells():
    cells = _cells()
    before = json.dumps(cells, sort_keys=True)
    build_notebook(cells, provenance=PROVENANCE)
    assert json.dumps(cells, sort_keys=True) == before


def test_an_invalid_cell_is_refused():
    with pytest.raises(nbformat.ValidationError):
        build_notebook([{"cell_type": "code", "source": "1", "id": "x"}], provenance=PROVENANCE)


def test_bytes_read_back_as_the_same_notebook():
    nb = build_notebook(_cells(), provenance=PROVENANCE)
    again = nbformat.reads(notebook_bytes(nb).decode("utf-8"), as_version=4)
    assert again == nb
