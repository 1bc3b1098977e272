"""A server restart during a generation: it is marked interrupted and nothing validated is lost."""

import json

import nbformat
import pytest

from cookbook_ext.store import Store

CELL = {
    "cell_type": "code",
    "id": "cookbook-abc-c1",
    "metadata": {"cookbook": {"cell_id": "c1"}},
    "source": "print('kept')",
    "outputs": [{"output_type": "stream", "name": "stdout", "text": "kept\n"}],
    "execution_count": 1,
}


@pytest.fixture
def left_running(tmp_path):
    """A generation a previous server process was running when it died."""
    store = Store(f"sqlite:///{tmp_path / 'cookbook-data' / 'cookbook.db'}")
    gen = store.create_generation(
        request={"prompt": "p", "template": "quickstart"},
        provider="offline",
        model=None,
        repo_id=None,
        kernel_id=None,
    )
    store.add_events(
        gen["id"],
        [
            (1, "started", {"generation_id": gen["id"]}, 1.0),
            (2, "cell_validated", {"cell_id": "c1", "index": 0, "cell": CELL}, 2.0),
            (3, "cell_created", {"cell_id": "c2", "cell_type": "code", "source": "x"}, 3.0),
        ],
    )
    store.close()
    return gen["id"]


async def test_generation_running_at_restart_is_interrupted_and_keeps_its_cells(left_running, jp_fetch):
    state = json.loads((await jp_fetch("cookbook", "generations", left_running)).body)
    assert state["status"] == "interrupted"
    assert "validated cells are kept" in state["message"]
    assert [c["source"] for c in state["cells"]] == ["print('kept')"]

    page = json.loads(
        (await jp_fetch("cookbook", "generations", left_running, "events", params={"timeout": 0})).body
    )
    assert [e["seq"] for e in page["events"]] == [1, 2, 3] and page["done"] is True

    nb = nbformat.reads(
        (await jp_fetch("cookbook", "generations", left_running, "notebook")).body.decode(), 4
    )
    nbformat.validate(nb)
    assert [c.source for c in nb.cells] == ["print('kept')"]
    assert nb.cells[0].outputs[0]["text"] == "kept\n"
