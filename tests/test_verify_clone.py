"""The fresh-kernel check of a notebook whose GitHub repository is cloned beside it: the scratch
run gets a pristine checkout of the pinned commit (what a new machine's setup cell clones), not
the building kernel's clone with whatever was written into it since. Real git, real kernels."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nbformat

from cookbook_ext.portable import notebook_clones
from cookbook_ext.verify import FreshKernelCheck
from tests.fakes.repos import git


def building_clone(folder: Path) -> tuple[str, str]:
    """A notebook folder with the clone a setup cell made beside it (`tiny-<commit>`), at its
    pinned commit, then changed by the building runs: a tracked file edited, a file added."""
    upstream = folder.parent / "upstream"
    upstream.mkdir()
    git("init", "-q", cwd=upstream)
    (upstream / "model.py").write_text("WEIGHTS = 'v1'\n")
    git("add", "model.py", cwd=upstream)
    git("commit", "-qm", "v1", cwd=upstream)
    commit = git("rev-parse", "HEAD", cwd=upstream)
    clone = folder / f"tiny-{commit[:7]}"
    git("init", "-q", str(clone), cwd=folder)
    git("-C", str(clone), "fetch", "-q", "--depth", "1", upstream.as_uri(), commit, cwd=folder)
    git("-C", str(clone), "checkout", "-q", "--detach", commit, cwd=folder)
    # What the building kernel's attempts left in the clone (a download, an edit).
    (clone / "downloaded.bin").write_text("only on the server\n")
    (clone / "model.py").write_text("WEIGHTS = 'patched on the server'\n")
    return clone.name, commit


def check_cells(folder: Path, clones: dict[str, str], *sources: str) -> dict:
    cells = [nbformat.v4.new_code_cell(s, id=f"c{i}") for i, s in enumerate(sources)]
    for cell in cells:
        cell.metadata["cookbook"] = {"cell_id": cell.id}
    check = FreshKernelCheck(folder=folder, clones=clones, startup_timeout=60)
    return asyncio.run(check(cells, cancel=asyncio.Event(), timeout=120)).to_dict()


def test_the_check_runs_against_the_pinned_commit_not_the_servers_clone(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    clone_dir, commit = building_clone(folder)
    location = {
        "path": clone_dir,
        "clone_url": "https://github.com/o/tiny",
        "commit": commit,
        "clone_dir": clone_dir,
    }
    clones = notebook_clones(location)
    assert clones == {clone_dir: commit}

    # The committed code is there, as it was committed.
    ok = check_cells(
        folder,
        clones,
        f"import runpy\nns = runpy.run_path('{clone_dir}/model.py')\n"
        "assert ns['WEIGHTS'] == 'v1', ns['WEIGHTS']",
    )
    assert ok["status"] == "passed", ok
    # What only the server's clone holds fails, as it would on another machine.
    lost = check_cells(folder, clones, f"open('{clone_dir}/downloaded.bin').read()")
    assert lost["status"] == "failed", lost
    assert lost["error"]["ename"] == "FileNotFoundError"
    # The server's clone is untouched by the check.
    assert (folder / clone_dir / "downloaded.bin").exists()
    assert "patched" in (folder / clone_dir / "model.py").read_text()


def test_without_a_pinned_clone_the_folder_is_copied_as_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    clone_dir, _ = building_clone(folder)
    # A local repository (no clone to pin): the user's own files are what the notebook uses.
    seen = check_cells(folder, {}, f"open('{clone_dir}/downloaded.bin').read()")
    assert seen["status"] == "passed", seen
    assert notebook_clones({"path": "../repos/st"}) == {}
