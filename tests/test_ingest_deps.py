"""Dependencies and Python version, read from packaging files as data (setup.py is never run)."""

from __future__ import annotations

from pathlib import Path

from cookbook_ext.ingest.deps import dependency_files, parse_dependencies
from cookbook_ext.ingest.scan import TextReader, scan_tree


def deps_of(root: Path, files: dict[str, str]) -> dict:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    scan = scan_tree(root, max_files=1000, max_bytes=10**9, max_file_bytes=10**6, label="t")
    deps = parse_dependencies(dependency_files(scan.files), TextReader(root, 10**6))
    return {**deps.to_dict(), "warnings": deps.warnings}


def pkgs(result: dict) -> list[tuple[str, str, str]]:
    return [(p["name"], p["spec"], p["source"]) for p in result["packages"]]


def test_requirements_txt_with_comments_options_markers_and_urls(tmp_path: Path) -> None:
    result = deps_of(
        tmp_path,
        {
            "requirements.txt": "# core\ntorch>=2.1  # GPU\nnumpy==1.26.*\n-r extra.txt\n--index-url https://x\n"
            "accelerate ; python_version >= '3.9'\n"
            "-e git+https://github.com/acme/lib.git#egg=acmelib\n"
            "peft @ https://example.com/peft.whl\n"
            "transformers[torch] >= 4.40, \\\n    < 5\n",
        },
    )
    assert pkgs(result) == [
        ("torch", ">=2.1", "requirements.txt"),
        ("numpy", "==1.26.*", "requirements.txt"),
        ("accelerate", '; python_version >= "3.9"', "requirements.txt"),
        ("acmelib", "(editable)", "requirements.txt"),
        ("peft", "@ https://example.com/peft.whl", "requirements.txt"),
        ("transformers", "<5,>=4.40", "requirements.txt"),
    ]
    assert result["files"] == ["requirements.txt"]


def test_pyproject_pep621_with_extras_and_python(tmp_path: Path) -> None:
    result = deps_of(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.10"\n'
            'dependencies = ["numpy>=1.24", "pillow"]\n'
            '[project.optional-dependencies]\ntorch = ["torch>=2.1"]\n'
            '[dependency-groups]\ndev = ["pytest"]\n'
        },
    )
    assert result["python"] == ">=3.10"
    assert pkgs(result) == [
        ("numpy", ">=1.24", "pyproject.toml"),
        ("pillow", "", "pyproject.toml"),
        ("torch", ">=2.1", "pyproject.toml [torch]"),
        ("pytest", "", "pyproject.toml [dev]"),
    ]


def test_poetry_dependencies(tmp_path: Path) -> None:
    result = deps_of(
        tmp_path,
        {
            "pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.9"\nrequests = "^2.31"\n'
            'torch = {version = ">=2", optional = true}\nanything = "*"\n'
        },
    )
    assert result["python"] == "^3.9"
    assert pkgs(result) == [
        ("requests", "^2.31", "pyproject.toml"),
        ("torch", ">=2", "pyproject.toml"),
        ("anything", "", "pyproject.toml"),
    ]


def test_setup_cfg(tmp_path: Path) -> None:
    result = deps_of(
        tmp_path,
        {
            "setup.cfg": "[options]\npython_requires = >=3.8\ninstall_requires =\n    requests>=2\n    tqdm\n"
            "[options.extras_require]\ndocs = sphinx\n"
        },
    )
    assert result["python"] == ">=3.8"
    assert pkgs(result) == [
        ("requests", ">=2", "setup.cfg"),
        ("tqdm", "", "setup.cfg"),
        ("sphinx", "", "setup.cfg [docs]"),
    ]


def test_setup_py_is_parsed_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    result = deps_of(
        tmp_path / "repo",
        {
            "setup.py": "import pathlib\n"
            f"pathlib.Path({str(marker)!r}).write_text('ran')\n"
            "from setuptools import setup\n"
            "BASE = ['numpy>=1.24', 'scipy']\n"
            "setup(name='x', python_requires='>=3.9', install_requires=BASE + ['tqdm'],\n"
            "      extras_require={'gpu': ['torch>=2']})\n"
        },
    )
    assert not marker.exists()
    assert result["python"] == ">=3.9"
    assert pkgs(result) == [
        ("numpy", ">=1.24", "setup.py"),
        ("scipy", "", "setup.py"),
        ("tqdm", "", "setup.py"),
        ("torch", ">=2", "setup.py [gpu]"),
    ]


def test_environment_yml_conda_and_pip_sections(tmp_path: Path) -> None:
    result = deps_of(
        tmp_path,
        {
            "environment.yml": "name: demo\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.10\n"
            "  - pytorch::pytorch>=2.0\n  - numpy\n  - pip\n  - pip:\n      - transformers>=4.40\n"
            "      - diffusers\nprefix: /opt\n"
        },
    )
    assert result["python"] == "3.10"
    assert pkgs(result) == [
        ("pytorch", ">=2.0", "environment.yml (conda)"),
        ("numpy", "", "environment.yml (conda)"),
        ("pip", "", "environment.yml (conda)"),
        ("transformers", ">=4.40", "environment.yml (pip)"),
        ("diffusers", "", "environment.yml (pip)"),
    ]


def test_pipfile(tmp_path: Path) -> None:
    result = deps_of(
        tmp_path,
        {
            "Pipfile": '[packages]\nrequests = "*"\nflask = {version = ">=3"}\n[dev-packages]\npytest = "*"\n'
            '[requires]\npython_version = "3.11"\n'
        },
    )
    assert result["python"] == "3.11"
    assert pkgs(result) == [
        ("requests", "", "Pipfile"),
        ("flask", ">=3", "Pipfile"),
        ("pytest", "", "Pipfile [dev]"),
    ]


def test_python_version_file_and_runtime_txt(tmp_path: Path) -> None:
    assert deps_of(tmp_path / "a", {".python-version": "3.12.1\n"})["python"] == "3.12.1"
    assert deps_of(tmp_path / "b", {"runtime.txt": "python-3.10.4\n"})["python"] == "3.10.4"


def test_pyproject_wins_the_python_version_over_version_files(tmp_path: Path) -> None:
    result = deps_of(
        tmp_path, {".python-version": "3.12\n", "pyproject.toml": '[project]\nrequires-python = ">=3.9"\n'}
    )
    assert result["python"] == ">=3.9"


def test_nested_requirements_count_but_tests_and_docs_do_not(tmp_path: Path) -> None:
    result = deps_of(
        tmp_path,
        {
            "examples/asr/requirements.txt": "datasets\n",
            "tests/requirements.txt": "pytest\n",
            "docs/requirements.txt": "sphinx\n",
            "requirements/base.txt": "numpy\n",
        },
    )
    assert result["files"] == ["requirements/base.txt", "examples/asr/requirements.txt"]
    assert pkgs(result) == [
        ("numpy", "", "requirements/base.txt"),
        ("datasets", "", "examples/asr/requirements.txt"),
    ]


def test_malformed_files_become_warnings_and_the_rest_still_counts(tmp_path: Path) -> None:
    result = deps_of(
        tmp_path,
        {
            "pyproject.toml": "[project\nname = = broken",
            "setup.py": "def broken(:\n",
            "setup.cfg": "no section header\n",
            "requirements.txt": "numpy\n",
        },
    )
    assert pkgs(result) == [("numpy", "", "requirements.txt")]
    assert len(result["warnings"]) == 3
    assert any("pyproject.toml is not valid TOML" in w for w in result["warnings"])
    assert any("setup.py is not valid Python" in w for w in result["warnings"])


def test_unexpected_toml_shapes_are_ignored(tmp_path: Path) -> None:
    result = deps_of(tmp_path, {"pyproject.toml": '[project]\ndependencies = "numpy"\nrequires-python = 3\n'})
    assert result["packages"] == [] and result["python"] is None


# -- runtime or not ----------------------------------------------------------------------------


def runtime(result: dict) -> list[tuple[str, bool, str | None]]:
    return [(p["name"], p["runtime"], p["group"]) for p in result["packages"]]


def test_extras_and_dependency_groups_are_not_runtime(tmp_path: Path) -> None:
    result = deps_of(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "x"\ndependencies = ["numpy>=1.24"]\n'
            '[project.optional-dependencies]\ntrain = ["peft"]\n'
            '[dependency-groups]\ndev = ["pytest", {include-group = "lint"}]\nlint = ["ruff"]\n'
            "[tool.poetry.dependencies]\nrequests = '^2'\ntorch = {version = '>=2', optional = true}\n"
            '[tool.poetry.group.docs.dependencies]\nsphinx = "*"\n'
            '[tool.poetry.dev-dependencies]\nblack = "*"\n'
        },
    )
    assert runtime(result) == [
        ("numpy", True, None),
        ("peft", False, "train"),
        ("pytest", False, "dev"),
        ("ruff", False, "lint"),
        ("requests", True, None),
        ("torch", False, "optional"),
        ("sphinx", False, "docs"),
        ("black", False, "dev"),
    ]


def test_requirements_files_for_development_are_not_runtime(tmp_path: Path) -> None:
    result = deps_of(
        tmp_path,
        {
            "requirements.txt": "numpy\n",
            "requirements-dev.txt": "pre-commit\n",
            "requirements/test.txt": "pytest\n",
            "requirements_docs.in": "mkdocs\n",
            "requirements-optional.txt": "optimum\n",
            "examples/train/requirements.txt": "datasets\n",
        },
    )
    assert {p["name"]: (p["runtime"], p["group"]) for p in result["packages"]} == {
        "numpy": (True, None),
        "pre-commit": (False, "dev"),
        "pytest": (False, "test"),
        "mkdocs": (False, "docs"),
        "optimum": (False, "optional"),
        "datasets": (True, None),  # what an example needs to run
    }


def test_extras_of_setup_py_setup_cfg_and_pipfile_are_not_runtime(tmp_path: Path) -> None:
    result = deps_of(
        tmp_path,
        {
            "setup.py": "from setuptools import setup\n"
            "setup(install_requires=['tqdm'], extras_require={'gpu': ['torch']})\n",
            "setup.cfg": "[options]\ninstall_requires = requests\n[options.extras_require]\ndocs = sphinx\n",
            "Pipfile": '[packages]\nflask = "*"\n[dev-packages]\npytest = "*"\n',
        },
    )
    assert sorted(runtime(result)) == [
        ("flask", True, None),
        ("pytest", False, "dev"),
        ("requests", True, None),
        ("sphinx", False, "docs"),
        ("torch", False, "gpu"),
        ("tqdm", True, None),
    ]
