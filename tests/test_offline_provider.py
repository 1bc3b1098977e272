"""The offline provider: plans from the repository and the model card, then drives the real tools."""

from __future__ import annotations

import asyncio
import copy

import nbformat
import pytest
from nbclient import NotebookClient

from cookbook_ext.agent.loop import Budgets, GenerationRequest, run_generation
from cookbook_ext.agent.providers.offline import OfflineProvider, plan_candidates
from cookbook_ext.agent.tools import RepoTrust
from cookbook_ext.ingest import IngestOptions, ingest
from cookbook_ext.kernel import KernelExecutor
from tests.fakes.kernels import running_kernel
from tests.fakes.scripted_provider import RecordingSink

README = """\
# Demo

Install with:

```bash
pip install jsonschema
```

## Quick start

```python
from pkg.core import summarise
print(summarise("a long sentence about cookbooks"))
```

## Plugins

```python
import not_a_real_module_xyz
not_a_real_module_xyz.run()
```

## Interactive

```pycon
>>> from pkg.core import summarise
>>> summarise("interactive use")
'interactive'
```
"""

EXAMPLE = 'from pkg.core import summarise\n\nprint("example:", summarise("from the examples folder"))\n'
CARD_USAGE = (
    'Use it like this:\n\n```python\nprint("card usage works")\n```\n\n```bash\nhuggingface-cli login\n```\n'
)


def _blocks(text: str) -> list[dict]:
    """README code blocks as the ingest step reports them (lang, code, heading)."""
    blocks, heading, lang, code = [], "", None, []
    for line in text.splitlines():
        if lang is None and line.startswith("#"):
            heading = line.lstrip("# ")
        elif lang is None and line.startswith("```"):
            lang, code = line[3:].strip(), []
        elif lang is not None and line.startswith("```"):
            blocks.append({"lang": lang, "code": "\n".join(code) + "\n", "heading": heading})
            lang = None
        elif lang is not None:
            code.append(line)
    return blocks


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo-repo")
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "core.py").write_text("def summarise(text):\n    return text.split()[0]\n")
    (root / "examples").mkdir()
    (root / "examples" / "demo.py").write_text(EXAMPLE)
    (root / "README.md").write_text(README)
    (root / "requirements.txt").write_text("jsonschema>=4\nnbformat\n")
    (root / "data.csv").write_text("text,label\nhello world,1\ngood bye,0\n")
    return root


@pytest.fixture(scope="module")
def repo(checkout):
    return {
        "checkout": str(checkout),
        "url": "https://github.com/example/demo",
        "commit": "0123456789abcdef",
        "name": "demo",
        # What ingest lists (in part): the repository's own package, which its README imports.
        "files": [{"path": "pkg/__init__.py"}, {"path": "pkg/core.py"}, {"path": "examples/demo.py"}],
        "readmes": [{"path": "README.md", "text": README, "code_blocks": _blocks(README)}],
        "examples": [{"path": "examples/demo.py", "title": "Demo script", "code": EXAMPLE, "kind": "script"}],
        "dependencies": {
            "python": ">=3.10",
            "packages": [
                {"name": "jsonschema", "spec": ">=4", "source": "requirements.txt"},
                {"name": "nbformat", "spec": "", "source": "requirements.txt"},
                {"name": "demo", "spec": "", "source": "pyproject.toml"},
            ],
        },
        "hf_ids": [],
        "context": {"markdown": "# Demo", "total_tokens": 3},
    }


MODEL = {
    "id": "example/tiny-model",
    "sha": "feedbeef",
    "pipeline_tag": "summarization",
    "card": {"usage": CARD_USAGE},
}


def _request(**kwargs) -> GenerationRequest:
    return GenerationRequest(prompt="Summarise short texts", **kwargs)


# -- planning --------------------------------------------------------------------------------------


def test_plan_starts_with_intro_install_and_setup_then_the_snippets(repo):
    plan = plan_candidates(_request(), repo, MODEL)
    titles = [c.title for c in plan]
    assert titles[:3] == ["Cookbook: demo", "Install the requirements", "Work from the repository"]
    assert titles[3:] == [
        "Quick start",
        "Plugins",
        "Interactive",
        "Usage from the model card",
        "Example: Demo script",
    ]


def test_plan_is_deterministic(repo):
    first = plan_candidates(_request(), repo, MODEL)
    second = plan_candidates(_request(), copy.deepcopy(repo), copy.deepcopy(MODEL))
    assert first == second


def test_install_cell_checks_importability_and_leaves_out_the_repository_itself(repo):
    install = plan_candidates(_request(), repo, MODEL)[1].code
    assert "importlib.util.find_spec" in install
    assert "%pip install -q" in install
    assert "'jsonschema>=4': 'jsonschema'" in install
    assert "'demo'" not in install


def test_pycon_prompts_and_output_lines_are_stripped(repo):
    [interactive] = [c for c in plan_candidates(_request(), repo, MODEL) if c.title == "Interactive"]
    assert interactive.code == 'from pkg.core import summarise\nsummarise("interactive use")'


def test_unlabelled_readme_blocks_count_only_when_they_are_python():
    blocks = [
        {
            "lang": "",
            "code": "import tabulate\nprint(tabulate.tabulate([[1]]))",
            "heading": "Unlabelled Python",
        },
        {"lang": "", "code": "git clone https://example.com/x", "heading": "Unlabelled shell"},
        {"lang": "", "code": "pip install tabulate", "heading": "Unlabelled install"},
    ]
    repo = {"name": "x", "readmes": [{"path": "README.md", "code_blocks": blocks}]}
    plan = plan_candidates(_request(), repo, None)
    titles = [c.title for c in plan]
    assert "Unlabelled Python" in titles
    assert "Unlabelled shell" not in titles and "Unlabelled install" not in titles
    assert "'tabulate': 'tabulate'" in plan[1].code


def test_notebook_examples_are_candidates_but_readme_examples_are_not_repeated():
    examples = [
        {"path": "README.md", "title": "Quick", "code": "print(1)", "kind": "readme", "lang": "python"},
        {
            "path": "demo.ipynb",
            "title": "Notebook demo",
            "code": "print(2)",
            "kind": "notebook",
            "lang": "python",
        },
    ]
    titles = [c.title for c in plan_candidates(_request(), {"examples": examples}, None)]
    assert "Example: Notebook demo" in titles
    assert "Example: Quick" not in titles


def test_basic_complexity_leaves_out_training_examples(repo):
    training = dict(
        repo, examples=[{"path": "train.py", "title": "Train", "code": "model.fit(x, y)", "kind": "script"}]
    )
    basic = [c.title for c in plan_candidates(_request(complexity="basic"), training, None)]
    advanced = [c.title for c in plan_candidates(_request(complexity="advanced"), training, None)]
    assert "Example: Train" not in basic
    assert "Example: Train" in advanced


def test_ab_arena_runs_the_card_snippet_for_both_models():
    model = dict(MODEL, card={"usage": '```python\nname = "example/tiny-model"\nprint(name)\n```'})
    plan = plan_candidates(_request(template="ab_arena", compare_with="other/model"), None, model)
    contenders = [c for c in plan if c.title.startswith("Contender")]
    assert [c.title for c in contenders] == ["Contender A: example/tiny-model", "Contender B: other/model"]
    assert '"other/model"' in contenders[1].code


def test_use_my_data_adds_a_look_at_the_data(repo, checkout):
    plan = plan_candidates(_request(template="use_my_data", data_path=str(checkout / "data.csv")), repo, None)
    assert "Look at the data" in [c.title for c in plan]


# -- end to end with a real kernel ------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel():
    with running_kernel() as harness:
        yield harness


def _generate(kernel, request, repo, model, **options):
    # These tests are about what the provider builds: the repository is trusted unless a test
    # says otherwise (test_trust.py covers the untrusted default).
    options.setdefault("trust", RepoTrust(trusted=True))
    sink = RecordingSink()
    executor = KernelExecutor(kernel.km, cell_timeout=60)

    async def scenario():
        try:
            return await run_generation(
                generation_id="offline1",
                request=request,
                repo=repo,
                model=model,
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


@pytest.fixture(scope="module")
def ingested(checkout, tmp_path_factory):
    """The checkout as the real ingest step describes it."""
    options = IngestOptions(root_dir=checkout.parent, cache_dir=tmp_path_factory.mktemp("cache"))
    return ingest(str(checkout), options=options).to_dict()


@pytest.fixture(scope="module")
def generated(kernel, ingested):
    return _generate(kernel, _request(complexity="intermediate"), ingested, MODEL)


def test_offline_generation_finishes_with_zero_usage(generated):
    outcome, sink = generated
    assert outcome.status == "finished"
    assert outcome.usage.total_tokens == 0 and outcome.usage.cost_usd == 0
    assert [t for t in sink.types if t in ("finished", "failed", "cancelled")] == ["finished"]
    assert outcome.notebook.metadata.cookbook.provider == "offline"


def test_offline_generation_keeps_what_runs_and_drops_what_fails(generated):
    outcome, sink = generated
    sources = "\n".join(c["source"] for c in outcome.cells)
    assert 'summarise("a long sentence about cookbooks")' in sources
    assert "card usage works" in sources
    assert "from the examples folder" in sources
    assert "not_a_real_module_xyz" not in sources
    assert "## Plugins" not in sources  # the failed snippet's heading went with it
    failed = [e for e in sink.of("cell_executed") if not e["ok"]]
    assert [e["error"]["ename"] for e in failed] == ["ModuleNotFoundError"]


def test_offline_failed_attempts_never_reach_the_notebook_view(generated):
    outcome, sink = generated
    assert sink.of("cell_invalidated") == []
    assert [e["cell"] for e in sink.of("cell_validated")] != []
    validated_ids = [e["cell_id"] for e in sink.of("cell_validated")]
    assert len(validated_ids) == len(outcome.cells)


def test_offline_install_cell_installs_nothing_already_importable(generated):
    outcome, _ = generated
    [install] = [c for c in outcome.cells if "requirements = {" in c["source"]]
    assert install["outputs"][0]["text"] == "2 of 2 requirements were already installed.\n"


def test_offline_cells_alternate_heading_and_code(generated, checkout):
    outcome, _ = generated
    types = [c["cell_type"] for c in outcome.cells]
    assert types[0] == "markdown" and outcome.cells[0]["source"].startswith(f"# Cookbook: {checkout.name}")
    assert all(types[i] == "markdown" for i in range(1, len(types), 2))
    assert all(types[i] == "code" for i in range(2, len(types), 2))


def test_offline_notebook_reruns_top_to_bottom_in_a_fresh_kernel(generated, tmp_path):
    outcome, _ = generated
    nb = nbformat.from_dict(copy.deepcopy(outcome.notebook))
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []


def test_offline_use_my_data_looks_at_the_users_file(kernel, repo, checkout):
    # The server turns a topic naming a file into a confined data_path; the provider reads only that.
    request = _request(template="use_my_data", data_path=str(checkout / "data.csv"))
    outcome, _ = _generate(kernel, request, None, None)
    [look] = [c for c in outcome.cells if "DATA_PATH" in c["source"]]
    assert "3 rows; header: ['text', 'label']" in look["outputs"][0]["text"]


def test_offline_without_repo_or_model_fails_with_nothing_runnable(kernel):
    outcome, sink = _generate(kernel, _request(), None, None)
    assert outcome.status == "failed"
    assert outcome.cells == [] and outcome.notebook.cells == []
    assert sink.of("cell_created") == []  # the intro waits for something real; it never came
    [failed] = sink.of("failed")
    assert failed["code"] == "nothing_validated"
    assert "Nothing runnable was found for this project" in failed["message"]
    assert "no Python code block" in failed["message"]
    assert [t for t in sink.types if t in ("finished", "failed", "cancelled")] == ["failed"]


def _ingest_folder(root, readme: str, requirements: str | None = None) -> dict:
    root.mkdir()
    (root / "README.md").write_text(readme)
    if requirements is not None:
        (root / "requirements.txt").write_text(requirements)
    options = IngestOptions(root_dir=root.parent, cache_dir=root.parent / "cache")
    return ingest(str(root), options=options).to_dict()


def test_offline_setup_alone_is_not_a_cookbook(kernel, tmp_path):
    """The setup runs, but the README has no code: it is deleted again and it fails. (No code
    imports the declared requirement, so there is no install cell either.)"""
    repo = _ingest_folder(tmp_path / "prose-only", "# Prose only\n\nJust words, no code.\n", "jsonschema\n")
    titles = [c.title for c in plan_candidates(_request(), repo, None)]
    assert titles == ["Cookbook: prose-only", "Work from the repository"]
    outcome, sink = _generate(kernel, _request(), repo, None)
    assert outcome.status == "failed"
    assert outcome.cells == [] and outcome.notebook.cells == []
    assert [e["ok"] for e in sink.of("cell_executed")] == [True]  # the setup
    validated = {e["cell_id"] for e in sink.of("cell_validated")}
    assert len(validated) == 1  # the setup's code (its heading, asked for last, is never written)
    assert {e["cell_id"] for e in sink.of("cell_invalidated")} == validated
    assert not any(e["source"].startswith("# Cookbook") for e in sink.of("cell_created"))
    [failed] = sink.of("failed")
    assert failed["code"] == "nothing_validated"
    assert failed["message"].startswith(
        "Nothing runnable was found for prose-only: it has no Python code block"
    )
    assert outcome.message == failed["message"]


def test_offline_every_candidate_failing_is_nothing_runnable(kernel, tmp_path):
    readme = (
        "# Broken\n\n## Use\n\n```python\nimport not_a_real_module_abc\nnot_a_real_module_abc.go()\n```\n"
    )
    repo = _ingest_folder(tmp_path / "broken", readme)
    outcome, sink = _generate(kernel, _request(), repo, None)
    assert outcome.status == "failed" and outcome.cells == []
    assert [e["ok"] for e in sink.of("cell_executed")] == [True, False]  # setup, the README block
    [failed] = sink.of("failed")
    assert failed["code"] == "nothing_validated"
    assert "none of the 1 example(s) tried" in failed["message"]
    assert sink.of("finished") == []


def test_offline_intro_is_written_only_after_something_real_ran(generated):
    outcome, sink = generated
    created = sink.of("cell_created")
    assert created[0]["cell_type"] == "code"  # the install cell, not the intro
    [intro] = [e for e in created if e["source"].startswith("# Cookbook")]
    first_real = next(
        i for i, e in enumerate(created) if e["cell_type"] == "code" and "summarise(" in e["source"]
    )
    assert created.index(intro) > first_real
    assert outcome.cells[0]["source"].startswith("# Cookbook")  # still the notebook's title


def test_offline_skips_a_declined_candidate_like_a_failed_one(kernel, ingested):
    asked = []

    async def decline(payload):
        asked.append(payload)
        return False

    outcome, sink = _generate(kernel, _request(), ingested, MODEL, approval_mode="risky", approve=decline)
    assert outcome.status == "finished"
    assert [p["reasons"] for p in asked] == [["installs packages"]]  # only the install cell
    assert [e["approved"] for e in sink.of("approval_resolved")] == [False]
    sources = "\n".join(c["source"] for c in outcome.cells)
    assert "requirements = {" not in sources and "Install the requirements" not in sources
    assert 'summarise("a long sentence about cookbooks")' in sources  # the rest went on
    deleted = [d for t, d in sink.events if t == "tool_call" and d["name"] == "delete_cell"]
    assert deleted and deleted[0]["arguments"] == {"cell_id": asked[0]["cell_id"]}


# -- requirements and revisions ---------------------------------------------------------------------


def _packages(*entries: tuple[str, str, str, bool | None]) -> list[dict]:
    out = []
    for name, spec, source, runtime in entries:
        package = {"name": name, "spec": spec, "source": source}
        if runtime is not None:
            package["runtime"] = runtime
        out.append(package)
    return out


def _install_code(repo: dict, model: dict | None = None) -> str | None:
    plan = plan_candidates(_request(), repo, model)
    return next((c.code for c in plan if c.title == "Install the requirements"), None)


def test_install_cell_holds_only_runtime_requirements_the_snippets_import():
    readme = "## Use\n\n```python\nimport jsonschema\nimport pytest\nprint(jsonschema.__name__)\n```\n"
    repo = {
        "name": "demo",
        "readmes": [{"path": "README.md", "code_blocks": _blocks(readme)}],
        "dependencies": {
            "packages": _packages(
                ("jsonschema", ">=4", "requirements.txt", True),
                ("numpy", ">=1.24", "requirements.txt", True),  # nothing imports it
                ("pytest", "", "requirements-dev.txt", False),  # imported, but a dev tool
                ("peft", "", "pyproject.toml [train]", False),
                ("pre-commit", "", "requirements-dev.txt", False),
            )
        },
    }

    code = _install_code(repo)

    assert code is not None
    assert "requirements = {\n    'jsonschema>=4': 'jsonschema',\n}" in code
    for left_out in ("numpy", "pytest", "peft", "pre-commit"):
        assert f"'{left_out}" not in code


def test_install_cell_has_the_packages_own_runtime_dependencies_when_snippets_import_it():
    readme = "## Use\n\n```python\nfrom demo_pkg import run\nrun()\n```\n"
    repo = {
        "name": "demo",
        "files": [{"path": "src/demo_pkg/__init__.py"}],
        "readmes": [{"path": "README.md", "code_blocks": _blocks(readme)}],
        "dependencies": {
            "packages": _packages(
                ("nbformat", "", "pyproject.toml", True),
                ("pyyaml", ">=6", "pyproject.toml", True),
                ("pytest", "", "pyproject.toml [test]", False),
                ("demo", "", "pyproject.toml", True),  # the repository itself
            )
        },
    }

    code = _install_code(repo)

    assert code is not None
    assert "'nbformat': 'nbformat'" in code and "'pyyaml>=6': 'yaml'" in code
    assert "pytest" not in code and "'demo'" not in code


def test_records_ingested_before_the_runtime_flag_are_read_from_their_source():
    readme = "## Use\n\n```python\nimport jsonschema, pytest, sphinx\n```\n"
    repo = {
        "name": "demo",
        "readmes": [{"path": "README.md", "code_blocks": _blocks(readme)}],
        "dependencies": {
            "packages": _packages(
                ("jsonschema", "", "setup.py", None),
                ("pytest", "", "pyproject.toml [dev]", None),
                ("sphinx", "", "requirements/docs.txt", None),
            )
        },
    }

    code = _install_code(repo)

    assert code is not None and "'jsonschema': 'jsonschema'" in code
    assert "pytest" not in code and "sphinx" not in code


def test_no_install_cell_when_no_snippet_imports_a_requirement():
    readme = "## Use\n\n```python\nprint(sum([1, 2]))\n```\n"
    repo = {
        "name": "demo",
        "readmes": [{"path": "README.md", "code_blocks": _blocks(readme)}],
        "dependencies": {"packages": _packages(("torch", ">=2", "requirements.txt", True))},
    }
    assert _install_code(repo) is None


PINNED_SHA = "c" * 40


def test_card_snippets_load_the_model_at_its_revision():
    model = dict(
        MODEL,
        sha=PINNED_SHA,
        card={
            "usage": '```python\nfrom transformers import pipeline\np = pipeline("summarization", '
            'model="example/tiny-model")\n```'
        },
    )
    [card] = [c for c in plan_candidates(_request(), None, model) if c.origin == "model_card"]
    assert f'model="example/tiny-model", revision="{PINNED_SHA}")' in card.code


def test_the_arenas_second_model_is_not_pinned_to_the_firsts_revision():
    model = dict(
        MODEL, sha=PINNED_SHA, card={"usage": '```python\nm = SentenceTransformer("example/tiny-model")\n```'}
    )
    plan = plan_candidates(_request(template="ab_arena", compare_with="other/model"), None, model)
    a, b = [c for c in plan if c.title.startswith("Contender")]
    assert f'SentenceTransformer("example/tiny-model", revision="{PINNED_SHA}")' in a.code
    assert 'SentenceTransformer("other/model")' in b.code and PINNED_SHA not in b.code


# -- the request, titles, repairs (more in test_offline_ranking.py and test_offline_repairs.py) -----


def test_offline_does_not_guess_a_package_for_a_module_nothing_names(generated):
    """`not_a_real_module_xyz` is declared nowhere and known to no table: it is not installed
    from an index under a guessed name (anyone could own that name), the snippet just goes."""
    _, sink = generated
    assert sink.of("repair") == []


def test_offline_planned_cells_have_distinct_titles(repo):
    titles = [c.title for c in plan_candidates(_request(), repo, MODEL)]
    assert len(titles) == len(set(titles))
