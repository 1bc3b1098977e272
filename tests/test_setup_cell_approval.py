"""Cookbook's own setup cell (it clones the repository the user chose at the commit ingested)
runs without a "risky" question; the same cell changed by one line is judged like any other
code, and "always" still asks. A real kernel in a folder of its own, a real git repository
reached over file://, no network."""

from __future__ import annotations

import asyncio

import pytest

from cookbook_ext.agent.loop import Budgets, GenerationRequest, run_generation
from cookbook_ext.kernel import KernelExecutor
from cookbook_ext.portable import RepoLocation, setup_code
from tests.fakes.kernels import KernelHarness, kernel_env
from tests.fakes.repos import git
from tests.fakes.scripted_provider import RecordingSink, ScriptedProvider, call, turn


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """An upstream repository, and the folder the kernel (the notebook) works in."""
    base = tmp_path_factory.mktemp("setup-cell")
    upstream = base / "upstream"
    upstream.mkdir()
    git("init", "-q", cwd=upstream)
    (upstream / "tiny.py").write_text("ANSWER = 42\n")
    git("add", "tiny.py", cwd=upstream)
    git("commit", "-qm", "one", cwd=upstream)
    notebook_dir = base / "notebook"
    notebook_dir.mkdir()
    return upstream, git("rev-parse", "HEAD", cwd=upstream), notebook_dir


@pytest.fixture(scope="module")
def kernel(place):
    _, _, notebook_dir = place
    harness = KernelHarness()
    # In its own folder: the setup cell clones beside "the notebook" and chdirs into the clone.
    harness.run(harness.km.start_kernel(env=kernel_env(), cwd=str(notebook_dir)))
    try:
        yield harness
    finally:
        harness.stop()


def run(kernel, place, code: str, mode: str, clone_dir: str):
    upstream, commit, _ = place
    location = {"path": clone_dir, "clone_url": upstream.as_uri(), "commit": commit, "clone_dir": clone_dir}
    asked: list[dict] = []

    async def approve(payload):
        asked.append(payload)
        return True

    async def scenario():
        executor = KernelExecutor(kernel.km)
        try:
            return await run_generation(
                generation_id="setup1",
                request=GenerationRequest(prompt="use the repository"),
                repo={"location": location, "checkout": str(upstream)},
                model=None,
                provider=ScriptedProvider(
                    [
                        turn(call("create_cell", code=code(location)), call("execute_cell", cell_id="c1")),
                        turn(call("finish", summary="set up")),
                    ]
                ),
                executor=executor,
                sink=RecordingSink(),
                budgets=Budgets(cell_timeout=60),
                cancel=asyncio.Event(),
                approval_mode=mode,
                approve=approve,
            )
        finally:
            await executor.close()

    return kernel.run(scenario()), asked


def exact(location: dict) -> str:
    return setup_code(RepoLocation.from_dict(location))


def test_cookbooks_own_setup_cell_runs_without_a_risky_question(kernel, place):
    outcome, asked = run(kernel, place, exact, "risky", "tiny-a")
    assert asked == []
    assert outcome.status == "finished", outcome.message
    assert (place[2] / "tiny-a" / "tiny.py").read_text() == "ANSWER = 42\n"  # it did clone


def test_the_setup_cell_changed_by_one_line_asks(kernel, place):
    changed = lambda location: exact(location) + "\nimport shutil\nshutil.rmtree('elsewhere', True)\n"  # noqa: E731
    outcome, asked = run(kernel, place, changed, "risky", "tiny-b")
    assert len(asked) == 1 and outcome.status == "finished", outcome.message


def test_always_still_asks_for_the_setup_cell(kernel, place):
    _, asked = run(kernel, place, exact, "always", "tiny-c")
    assert len(asked) == 1
