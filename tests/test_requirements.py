"""Which declared packages a notebook's code needs: import names and the distributions behind them."""

from __future__ import annotations

from cookbook_ext.agent.requirements import distribution_for, import_check, imported_modules, modules_of


def test_imports_are_read_from_the_syntax_top_level_only() -> None:
    code = (
        "import numpy as np, os.path\nfrom sentence_transformers import util\nfrom . import local\n"
        "from .pkg import x\n%pip install -q torch\n!ls\ndef f():\n    import yaml\n"
        'text = "import not_this"\n'
    )
    assert imported_modules(code) == {"numpy", "os", "sentence_transformers", "yaml"}


def test_code_that_does_not_parse_is_read_line_by_line() -> None:
    assert imported_modules("import torch\nfrom PIL import Image\nprint(") == {"torch", "PIL"}


def test_installed_distributions_name_their_modules() -> None:
    # From this environment's metadata: PyYAML installs `yaml`, jsonschema `jsonschema`.
    assert "yaml" in modules_of("PyYAML") and "yaml" in modules_of("pyyaml")
    assert modules_of("jsonschema") >= {"jsonschema"}
    assert import_check("PyYAML") == "yaml"


def test_well_known_names_come_from_the_table_when_not_installed() -> None:
    assert modules_of("scikit-learn") == {"sklearn"}
    assert modules_of("opencv-python-headless") == {"cv2"}
    assert import_check("Pillow") == "PIL"


def test_other_names_are_their_own_module() -> None:
    assert modules_of("some-unknown.package") == {"some_unknown_package"}


def test_a_module_maps_back_to_its_distribution() -> None:
    assert distribution_for("sklearn.linear_model") == "scikit-learn"
    assert distribution_for("yaml", ["numpy", "PyYAML"]) == "PyYAML"  # a declared name wins
    assert distribution_for("surely_no_such_module_here") is None
