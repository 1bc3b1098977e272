"""READMEs, fenced code blocks, example scripts and notebooks: found, parsed and ranked."""

from __future__ import annotations

from pathlib import Path

from cookbook_ext.ingest.examples import (
    find_readmes,
    load_readmes,
    parse_code_blocks,
    rank_examples,
    script_candidates,
)
from cookbook_ext.ingest.notebooks import load_notebooks, notebook_candidates, parse_notebook
from cookbook_ext.ingest.scan import FileEntry, TextReader
from cookbook_ext.markdown import split_sections as markdown_sections

README = """# Tiny

Intro text.

## Installation

```bash
pip install tiny
```

## Quick start

```python
from tiny import Model
model = Model.from_pretrained("acme/tiny")
```

Setext heading
--------------

~~~~py title="x.py"
print("tilde fence")
~~~~

````markdown
```python
nested = True
```
````

## Empty

```
```
"""


def test_fenced_blocks_carry_language_and_nearest_heading() -> None:
    blocks = parse_code_blocks(README)
    assert [(b.lang, b.heading) for b in blocks] == [
        ("bash", "Installation"),
        ("python", "Quick start"),
        ("py", "Setext heading"),
        ("markdown", "Setext heading"),
    ]
    assert blocks[1].code == 'from tiny import Model\nmodel = Model.from_pretrained("acme/tiny")'
    assert blocks[3].code == "```python\nnested = True\n```"


def test_unclosed_fence_runs_to_the_end() -> None:
    [block] = parse_code_blocks("# T\n```python\nx = 1\n")
    assert block.code == "x = 1"


def test_rst_code_directives_are_blocks() -> None:
    text = "Usage\n=====\n\n.. code-block:: python\n\n    import tiny\n    tiny.run()\n\nAfter.\n"
    [block] = parse_code_blocks(text, rst=True)
    assert (block.lang, block.heading, block.code) == ("python", "Usage", "import tiny\ntiny.run()")


def test_markdown_sections_split_at_headings_outside_fences() -> None:
    text = "# Title\nintro\n## Usage\n```python\n# not a heading\n```\n## More\nx\n"
    assert [(s.heading, s.level) for s in markdown_sections(text)] == [
        ("Title", 1),
        ("Usage", 2),
        ("More", 2),
    ]


def entries(*specs: tuple[str, int, str]) -> list[FileEntry]:
    return [FileEntry(path, size, kind) for path, size, kind in specs]


def test_root_readme_comes_first_then_example_readmes() -> None:
    files = entries(
        ("tests/README.md", 10, "doc"),
        ("docs/README.md", 10, "doc"),
        ("examples/asr/README.md", 10, "doc"),
        ("README.md", 10, "doc"),
        ("a/b/c/d/README.md", 10, "doc"),
    )
    assert [f.path for f in find_readmes(files)] == [
        "README.md",
        "examples/asr/README.md",
        "docs/README.md",
        "tests/README.md",
    ]


def test_script_candidates_prefer_short_scripts_in_example_folders_and_skip_tests() -> None:
    files = entries(
        ("examples/run_big.py", 50_000, "code"),
        ("examples/quickstart.py", 1_000, "code"),
        ("inference.py", 2_000, "code"),
        ("src/pkg/model.py", 1_000, "code"),
        ("tests/test_model.py", 1_000, "code"),
        ("examples/conftest.py", 1_000, "code"),
        ("setup.py", 500, "code"),
        ("examples/vendor.py", 500, "vendored"),
    )
    assert [f.path for f in script_candidates(files)] == [
        "examples/quickstart.py",
        "inference.py",
        "examples/run_big.py",
    ]


def test_examples_rank_readme_usage_first_and_install_blocks_low(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(README)
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "demo.py").write_text(
        '"""Classify an image with the tiny model."""\nfrom tiny import Model\n'
        'Model.from_pretrained("acme/tiny")\nif __name__ == "__main__":\n    pass\n'
    )
    (tmp_path / "examples" / "bundle.py").write_text("x=1;" * 2000)  # minified: one huge line
    reader = TextReader(tmp_path, 10**6)
    warnings: list[str] = []
    readmes = load_readmes([FileEntry("README.md", 10, "doc")], reader, warnings)
    scripts = entries(("examples/demo.py", 100, "code"), ("examples/bundle.py", 8000, "code"))
    notebooks = [
        {
            "path": "notebooks/intro.ipynb",
            "cells": [
                {"type": "markdown", "source": "# Intro notebook"},
                {"type": "code", "source": "import tiny"},
            ],
        }
    ]
    examples = rank_examples(readmes, scripts, notebooks, reader)
    titles = [(e["kind"], e["title"]) for e in examples]
    assert titles[0] == ("readme", "Quick start")
    assert ("script", "Classify an image with the tiny model") in titles
    assert ("notebook", "Intro notebook") in titles
    assert all(e["path"] != "examples/bundle.py" for e in examples)
    assert titles.index(("readme", "Installation")) > titles.index(
        ("script", "Classify an image with the tiny model")
    )
    assert {"path", "title", "code", "kind"} <= set(examples[0])


def test_long_readme_is_cut_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("word " * 50_000)
    warnings: list[str] = []
    [readme] = load_readmes([FileEntry("README.md", 250_000, "doc")], TextReader(tmp_path, 10**6), warnings)
    assert len(readme["text"]) == 100_000
    assert "README.md is long" in warnings[0]


# -- notebooks ----------------------------------------------------------------------------------


def test_notebook_cells_keep_code_and_markdown_and_drop_outputs() -> None:
    nb = (
        '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": ['
        '{"cell_type": "markdown", "metadata": {}, "source": ["# Title\\n", "text"]},'
        '{"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "x = 1",'
        ' "outputs": [{"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo="}}]},'
        '{"cell_type": "raw", "metadata": {}, "source": "raw text"}]}'
    )
    assert parse_notebook(nb) == [
        {"type": "markdown", "source": "# Title\ntext"},
        {"type": "code", "source": "x = 1"},
        {"type": "raw", "source": "raw text"},
    ]


def test_nbformat3_worksheets_are_read() -> None:
    nb = '{"nbformat": 3, "worksheets": [{"cells": [{"cell_type": "code", "input": ["a = 2"]}]}]}'
    assert parse_notebook(nb) == [{"type": "code", "source": "a = 2"}]


def test_malformed_notebooks_become_warnings(tmp_path: Path) -> None:
    bodies = {
        "broken.ipynb": '{"cells": [ {"cell_type": "code", "source": ',
        "list.ipynb": "[1, 2]",
        "nocells.ipynb": '{"metadata": {}}',
        "good.ipynb": '{"cells": [{"cell_type": "code", "source": "ok()"}]}',
    }
    for name, body in bodies.items():
        (tmp_path / name).write_text(body)
    files = [FileEntry(name, len(body), "notebook") for name, body in bodies.items()]
    warnings: list[str] = []
    notebooks = load_notebooks(notebook_candidates(files), TextReader(tmp_path, 10**6), warnings)
    assert [nb["path"] for nb in notebooks] == ["good.ipynb"]
    assert len(warnings) == 3 and all("is not a valid notebook" in w for w in warnings)


def test_notebook_credentials_are_masked(tmp_path: Path) -> None:
    token = "hf_" + "Z" * 34
    (tmp_path / "nb.ipynb").write_text(
        '{"cells": [{"cell_type": "code", "source": "login(\\"' + token + '\\")"}]}'
    )
    reader = TextReader(tmp_path, 10**6)
    [nb] = load_notebooks([FileEntry("nb.ipynb", 100, "notebook")], reader, [])
    assert nb["cells"][0]["source"] == 'login("[REDACTED:huggingface]")'
    assert reader.masked == 1


def test_notebooks_are_ordered_naturally_examples_first() -> None:
    files = entries(
        ("tests/t.ipynb", 10, "notebook"),
        ("notebooks/tutorial_10.ipynb", 10, "notebook"),
        ("notebooks/tutorial_2.ipynb", 10, "notebook"),
        ("research/x.ipynb", 10, "notebook"),
    )
    assert [f.path for f in notebook_candidates(files)] == [
        "notebooks/tutorial_2.ipynb",
        "notebooks/tutorial_10.ipynb",
        "research/x.ipynb",
        "tests/t.ipynb",
    ]
