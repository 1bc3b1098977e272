"""The offline provider's deterministic repairs, on real kernels: before it gives a failing snippet
up it installs a missing module (through approval), points a missing input file at the repository's
own file or a sample, falls back from CUDA to the CPU. Each repair is a `repair` event. And a
repository that is itself a package is installed from its checkout."""

from __future__ import annotations

import asyncio
import json
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager

from cookbook_ext.agent.loop import Budgets, GenerationRequest, run_generation
from cookbook_ext.agent.providers.offline import OfflineProvider, plan_candidates
from cookbook_ext.agent.providers.repairs import MAX_REPAIRS, RepairContext, propose
from cookbook_ext.agent.tools import RepoTrust
from cookbook_ext.ingest import IngestOptions, ingest
from cookbook_ext.kernel import KernelExecutor
from tests.fakes.kernels import KernelHarness, kernel_env, running_kernel
from tests.fakes.scripted_provider import RecordingSink

WORKS = "## Also\n\n```python\nprint('this one works')\n```\n"


def _ingest(root: Path, files: dict[str, str]) -> dict:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    options = IngestOptions(root_dir=root.parent, cache_dir=root.parent / f"cache-{root.name}")
    return ingest(str(root), options=options).to_dict()


def _readme(*blocks: str) -> str:
    return "# Demo\n\n" + "".join(f"## Step {i}\n\n```python\n{b}\n```\n\n" for i, b in enumerate(blocks, 1))


@pytest.fixture(scope="module")
def kernel():
    with running_kernel() as harness:
        yield harness


def _generate(kernel, repo, prompt="try it", **options):
    options.setdefault("trust", RepoTrust(trusted=True))
    sink = RecordingSink()
    executor = KernelExecutor(kernel.km, cell_timeout=120)

    async def scenario():
        try:
            return await run_generation(
                generation_id="repairs1",
                request=GenerationRequest(prompt=prompt),
                repo=repo,
                model=None,
                provider=OfflineProvider(),
                executor=executor,
                sink=sink,
                budgets=Budgets(),
                cancel=asyncio.Event(),
                **options,
            )
        finally:
            await executor.close()

    return kernel.run(scenario(), timeout=300), sink


def _kept(outcome, marker: str) -> dict:
    [cell] = [c for c in outcome.cells if c["cell_type"] == "code" and marker in c["source"]]
    return cell


def _text(cell: dict) -> str:
    return "".join(o.get("text", "") for o in cell["outputs"])


# -- CUDA ------------------------------------------------------------------------------------------

CUDA = """\
device = "cuda"
if device == "cuda":
    raise RuntimeError("CUDA not available")
print("ran on", device)"""


def test_cuda_falls_back_to_the_cpu(kernel, tmp_path):
    repo = _ingest(tmp_path / "gpu", {"README.md": _readme(CUDA)})
    outcome, sink = _generate(kernel, repo)
    [repair] = sink.of("repair")
    assert repair["kind"] == "cpu_fallback" and "CPU" in repair["detail"]
    cell = _kept(outcome, "ran on")
    assert 'device = "cpu"' in cell["source"]
    assert 'if device == "cuda":' in cell["source"]  # a comparison still means what it says
    assert _text(cell) == "ran on cpu\n"
    assert [e["ok"] for e in sink.of("cell_executed") if e["cell_id"] == repair["cell_id"]] == [False, True]
    heading = outcome.cells[outcome.cells.index(cell) - 1]["source"]
    assert "Changed so that it runs here: no CUDA device here" in heading


# -- missing files ---------------------------------------------------------------------------------

READS_CSV = """\
import csv
with open("data/reviews.csv") as f:
    rows = list(csv.reader(f))
print(len(rows), "rows")"""


def test_a_missing_csv_is_replaced_by_the_sample_the_repository_ships(kernel, tmp_path):
    repo = _ingest(
        tmp_path / "with-sample",
        {"README.md": _readme(READS_CSV), "samples/tiny.csv": "text,label\na,1\nb,0\n"},
    )
    outcome, sink = _generate(kernel, repo)
    [repair] = sink.of("repair")
    assert repair["kind"] == "sample_file" and "samples/tiny.csv" in repair["detail"]
    cell = _kept(outcome, "rows")
    assert "REPO_DIR / 'samples/tiny.csv'" in cell["source"]
    assert _text(cell) == "3 rows\n"


def test_a_missing_csv_is_generated_when_the_repository_has_none(kernel, tmp_path):
    repo = _ingest(tmp_path / "no-sample", {"README.md": _readme(READS_CSV)})
    outcome, sink = _generate(kernel, repo)
    [repair] = sink.of("repair")
    assert repair["kind"] == "generated_file"
    cell = _kept(outcome, "rows")
    assert "tempfile.mkdtemp" in cell["source"] and "str(sample_path)" in cell["source"]
    assert _text(cell) == "4 rows\n"
    assert not (tmp_path / "no-sample" / "data").exists()  # nothing written into the checkout


def test_a_relative_path_is_resolved_against_the_repository(kernel, tmp_path):
    script = (
        'from pathlib import Path\n\nprint("words:", len(Path("inputs/words.txt").read_text().split()))\n'
    )
    repo = _ingest(
        tmp_path / "relative",
        {
            "README.md": "# Relative\n\nNo code here.\n",
            "examples/app/count_words.py": script,
            "examples/app/inputs/words.txt": "one two three\n",
        },
    )
    outcome, sink = _generate(kernel, repo)
    [repair] = sink.of("repair")
    assert repair["kind"] == "relative_path"
    assert "examples/app/inputs/words.txt" in repair["detail"]
    assert _text(_kept(outcome, "words:")) == "words: 3\n"


def test_at_most_two_repairs_per_cell(kernel, tmp_path):
    three = CUDA.replace(
        'print("ran on", device)', 'open("a.csv").read()\nopen("b.csv").read()\nprint("done")'
    )
    repo = _ingest(tmp_path / "three", {"README.md": _readme(three) + WORKS})
    outcome, sink = _generate(kernel, repo)
    assert [r["kind"] for r in sink.of("repair")] == ["cpu_fallback", "generated_file"] and MAX_REPAIRS == 2
    assert not any('"done"' in c["source"] for c in outcome.cells)
    notes = " ".join(e["text"] for e in sink.of("llm_text"))
    assert "failed after 2 repair(s) (FileNotFoundError" in notes


# -- missing modules -------------------------------------------------------------------------------


def test_a_known_missing_module_is_installed_through_approval_and_dropped_cleanly_when_pip_fails(
    kernel, tmp_path
):
    repo = _ingest(tmp_path / "cv", {"README.md": _readme("import cv2\nprint(cv2.__version__)") + WORKS})
    asked = []

    async def approve(payload):
        asked.append(payload)
        return True

    outcome, sink = _generate(kernel, repo, approval_mode="risky", approve=approve)
    [repair] = sink.of("repair")
    assert repair["kind"] == "missing_module" and "opencv-python" in repair["detail"]
    [approval] = asked  # the original snippet installs nothing: only the repaired cell asks
    assert approval["reasons"] == ["installs packages"]
    assert "%pip install -q opencv-python" in approval["source"]
    assert "opencv-python" in json.dumps(approval["details"])
    # The kernel has no package index (PIP_NO_INDEX): pip fails, the cell says so and goes.
    assert outcome.status == "finished"
    assert not any("cv2" in c["source"] for c in outcome.cells)
    notes = " ".join(e["text"] for e in sink.of("llm_text"))
    assert "failed after 1 repair(s) (ModuleNotFoundError: pip could not install opencv-python" in notes


def test_an_unknown_module_is_not_guessed_from_an_index(kernel, tmp_path):
    repo = _ingest(tmp_path / "unknown", {"README.md": _readme("import not_a_real_module_q\n") + WORKS})
    outcome, sink = _generate(kernel, repo)
    assert sink.of("repair") == []
    assert [e["error"]["ename"] for e in sink.of("cell_executed") if not e["ok"]] == ["ModuleNotFoundError"]


def test_a_module_the_repository_declares_is_installed_under_its_declared_name():
    context = RepairContext(declared=("PyYAML",), own_modules=frozenset({"demo"}))
    error = {"ename": "ModuleNotFoundError", "evalue": "No module named 'yaml'"}
    repair = propose("import yaml", error, context, ())
    assert repair is not None and "%pip install -q PyYAML" in repair.code
    # The repository's own package comes from its checkout, never from an index, even when an
    # index has a package of that name (this is sentence-transformers' own repository, say).
    own = {"ename": "ModuleNotFoundError", "evalue": "No module named 'sentence_transformers.util'"}
    mine = RepairContext(own_modules=frozenset({"sentence_transformers"}))
    assert propose("from sentence_transformers import util", own, mine, ()) is None
    assert propose("from sentence_transformers import util", own, RepairContext(), ()) is not None
    assert propose("import yaml", error, context, [repair.key]) is None  # never the same repair twice


# -- the repository as a package -------------------------------------------------------------------

# A PEP 517/660 build backend inside the fixture repository. The project asks for setuptools to
# build, as most do: with no package index pip cannot set up an isolated build environment, so
# the install cell's second try (without build isolation, with what is installed) is what works.
BACKEND = """\
import base64
import hashlib
import os
import zipfile

NAME, DIST, VERSION = "cookbook-fixture-minilm", "cookbook_fixture_minilm", "0.3.1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INFO = f"{DIST}-{VERSION}.dist-info"
FILES = {
    f"{INFO}/METADATA": f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n",
    f"{INFO}/WHEEL": "Wheel-Version: 1.0\\nGenerator: fixture\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    f"{INFO}/entry_points.txt": "[cookbook_fixture.plugins]\\ndemo = minilm:Model\\n",
    f"{DIST}.pth": ROOT + "\\n",
}


def get_requires_for_build_wheel(config_settings=None):
    return []


get_requires_for_build_editable = get_requires_for_build_wheel


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    for name, text in FILES.items():
        if name.startswith(INFO):
            path = os.path.join(metadata_directory, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as handle:
                handle.write(text)
    return INFO


prepare_metadata_for_build_wheel = prepare_metadata_for_build_editable


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    wheel = f"{DIST}-{VERSION}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as out:
        for name, text in FILES.items():
            data = text.encode()
            out.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{name},sha256={digest},{len(data)}")
        out.writestr(f"{INFO}/RECORD", "\\n".join(record + [f"{INFO}/RECORD,,"]) + "\\n")
    return wheel


build_wheel = build_editable
"""

PYPROJECT = """\
[build-system]
requires = ["setuptools"]
build-backend = "inplace_backend"
backend-path = ["_build"]

[project]
name = "cookbook-fixture-minilm"
version = "0.3.1"
"""

USES_METADATA = (
    "import importlib.metadata\n"
    'print(importlib.metadata.version("cookbook-fixture-minilm"))\n'
    'print([e.name for e in importlib.metadata.entry_points(group="cookbook_fixture.plugins")])'
)


@pytest.fixture(scope="module")
def package_repo(tmp_path_factory) -> dict:
    return _ingest(
        tmp_path_factory.mktemp("package") / "minilm",
        {
            "pyproject.toml": PYPROJECT,
            "_build/inplace_backend.py": BACKEND,
            "minilm/__init__.py": "class Model:\n    pass\n",
            "README.md": _readme(USES_METADATA),
        },
    )


def test_a_repository_that_is_a_package_is_installed_from_its_checkout_right_after_the_setup(package_repo):
    assert package_repo["dependencies"]["project"]["name"] == "cookbook-fixture-minilm"
    plan = plan_candidates(GenerationRequest(prompt="p"), package_repo, None)
    titles = [c.title for c in plan]
    at = titles.index("Work from the repository")
    install = plan[at + 1]
    assert install.title == "Install cookbook-fixture-minilm from the repository"
    assert install.origin == "repository" and install.scaffold
    assert "%pip install -q --no-deps -e {target}" in install.code


def test_a_repository_that_is_not_a_package_gets_no_install_cell(tmp_path):
    repo = _ingest(
        tmp_path / "plain", {"pyproject.toml": "[tool.ruff]\nline-length = 100\n", "README.md": WORKS}
    )
    assert repo["dependencies"]["project"] is None
    titles = [c.title for c in plan_candidates(GenerationRequest(prompt="p"), repo, None)]
    assert not any(t.startswith("Install") and t.endswith("from the repository") for t in titles)


@pytest.fixture
def isolated_kernel(tmp_path):
    """A kernel whose Python is a fresh virtual environment that sees the test environment's
    packages (a .pth file) but installs into its own folder: the editable install stays there."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    [purelib] = list((venv / "lib").glob("python*/site-packages"))
    (purelib / "_cookbook_test_parent.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    spec_dir = tmp_path / "kernels" / "isolated"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "isolated",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    harness = KernelHarness()
    harness.km = AsyncKernelManager(
        kernel_name="isolated", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir.parent)])
    )
    harness.run(harness.km.start_kernel(env=kernel_env()))
    try:
        yield harness, purelib
    finally:
        harness.stop()


def test_the_package_installs_editable_so_its_version_and_entry_points_resolve(isolated_kernel, package_repo):
    kernel, purelib = isolated_kernel
    outcome, sink = _generate(kernel, package_repo)
    assert outcome.status == "finished"
    install = _kept(outcome, "installed_editable()")
    assert "cookbook-fixture-minilm 0.3.1 is installed from the repository." in _text(install)
    assert _text(_kept(outcome, "entry_points(")) == "0.3.1\n['demo']\n"
    [info] = purelib.glob("cookbook_fixture_minilm-0.3.1.dist-info")  # in the kernel's own folder
    original = json.loads((info / "direct_url.json").read_text())["url"]
    assert original == Path(package_repo["checkout"]).resolve().as_uri()


def test_a_copy_of_the_repository_does_not_reinstall_over_the_checkout_it_came_from(
    isolated_kernel, package_repo, tmp_path
):
    # As the fresh-kernel check runs a scratch copy, or a user re-runs the notebook elsewhere:
    # the editable install of a checkout that is still there is kept, not pointed at the copy.
    kernel, purelib = isolated_kernel
    _generate(kernel, package_repo)
    copy = dict(package_repo, checkout=str(tmp_path / "copy"))
    shutil.copytree(package_repo["checkout"], copy["checkout"])
    outcome, _ = _generate(kernel, copy)
    assert _text(_kept(outcome, "installed_editable()")) == (
        "cookbook-fixture-minilm 0.3.1 is installed from the repository.\n"
    )
    [info] = purelib.glob("cookbook_fixture_minilm-0.3.1.dist-info")
    assert json.loads((info / "direct_url.json").read_text())["url"] == (
        Path(package_repo["checkout"]).resolve().as_uri()
    )
