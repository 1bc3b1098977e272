"""A repository's declared dependencies and Python version, read from its packaging files.

requirements*.txt, pyproject.toml (PEP 621, Poetry, dependency groups), setup.cfg, setup.py,
environment.yml, Pipfile, .python-version and runtime.txt. Everything is parsed as data: setup.py
through `ast`, never executed; YAML with a line reader, so no document can expand in memory.
A malformed file becomes a warning and the others still count.

Each package says whether running the project needs it: `runtime` is false, and `group` names the
extra, the dependency group or the kind of requirements file, for what only developing, testing,
documenting or an optional feature needs (`requirements-dev.txt`, `[project.optional-dependencies]`,
PEP 735 `[dependency-groups]`, Poetry groups, Pipfile's dev-packages).
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from .scan import FileEntry, TextReader

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["Dependencies", "dependency_files", "parse_dependencies", "requirements_file_group"]

MAX_FILES = 25
MAX_PACKAGES = 400
MAX_DEPTH = 2  # root and two folders down (examples/task/requirements.txt)
SKIP_DIRS = frozenset({"tests", "test", "testing", "docs", "doc", "benchmarks", ".github"})
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)\s*(\[[^\]]*\])?\s*(.*)$")
_EGG = re.compile(r"#egg=([A-Za-z0-9][A-Za-z0-9._\-]*)")
_CONDA = re.compile(r"^(?:[\w\-]+::)?([A-Za-z0-9][A-Za-z0-9._\-]*)\s*(.*)$")
# A requirements file named for what is not running the project: requirements-dev.txt,
# requirements/test.txt, docs-requirements.in, requirements_optional.txt.
_NOT_RUNTIME_FILE = re.compile(
    r"(?:^|[-_./])(dev|devel|develop|development|tests?|testing|docs?|lint|linting|style|typing|mypy|"
    r"ci|bench|benchmarks?|format|pre-commit|precommit|quality|build|optional|extras?)(?=$|[-_.])",
    re.IGNORECASE,
)

# Python version sources, most authoritative first.
_PYTHON_PRIORITY = (
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    "Pipfile",
    "environment.yml",
    "environment.yaml",
    ".python-version",
    "runtime.txt",
)


@dataclass
class Dependencies:
    python: str | None = None
    packages: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _seen: set[tuple[str, str, str]] = field(default_factory=set, repr=False)
    _python_by_file: dict[str, str] = field(default_factory=dict, repr=False)
    # The repository is itself an installable package: {name, file, build_backend} from its root
    # pyproject.toml ([project] or Poetry), setup.cfg or setup.py; None when it is not one.
    project: dict[str, Any] | None = None

    def add(self, name: str, spec: str, source: str, group: str | None = None) -> None:
        """One declared package; `group` (an extra, a dependency group, "dev", "test") for what
        running the project does not need."""
        key = (name.lower(), spec, source)
        if key in self._seen or len(self.packages) >= MAX_PACKAGES:
            return
        self._seen.add(key)
        self.packages.append(
            {"name": name, "spec": spec, "source": source, "runtime": group is None, "group": group}
        )

    def set_python(self, path: str, spec: object) -> None:
        if isinstance(spec, str) and spec.strip() and "/" not in path and path not in self._python_by_file:
            self._python_by_file[path] = spec.strip()[:60]

    def to_dict(self) -> dict[str, Any]:
        return {
            "python": self.python,
            "packages": self.packages,
            "files": self.files,
            "project": self.project,
        }

    def set_project(self, path: str, name: object, build_backend: object = None) -> None:
        if isinstance(name, str) and name.strip() and "/" not in path and self.project is None:
            backend = build_backend if isinstance(build_backend, str) else None
            self.project = {"name": name.strip()[:100], "file": path, "build_backend": backend}


def _kind(path: str) -> str | None:
    lower = path.lower()
    folder, _, name = lower.rpartition("/")
    in_requirements = name.startswith("requirements") or folder.endswith("requirements")
    if in_requirements and name.endswith((".txt", ".in")):
        return "requirements"
    return {
        "pyproject.toml": "pyproject",
        "setup.cfg": "setup.cfg",
        "setup.py": "setup.py",
        "environment.yml": "conda",
        "environment.yaml": "conda",
        "pipfile": "pipfile",
        ".python-version": "python-version",
        "runtime.txt": "runtime",
    }.get(name)


def dependency_files(files: Iterable[FileEntry]) -> list[FileEntry]:
    """Packaging files worth reading: near the root, outside tests and docs, root first."""
    found = []
    for entry in files:
        if entry.kind not in ("text", "code", "doc") or entry.depth > MAX_DEPTH or not _kind(entry.path):
            continue
        parts = entry.path.lower().split("/")[:-1]
        if any(p in SKIP_DIRS for p in parts):
            continue
        found.append(entry)
    found.sort(key=lambda e: (e.depth, e.path))
    return found[:MAX_FILES]


def parse_dependencies(entries: Iterable[FileEntry], reader: TextReader) -> Dependencies:
    deps = Dependencies()
    parsers = {
        "requirements": _requirements,
        "pyproject": _pyproject,
        "setup.cfg": _setup_cfg,
        "setup.py": _setup_py,
        "conda": _conda,
        "pipfile": _pipfile,
        "python-version": _python_version_file,
        "runtime": _runtime_txt,
    }
    for entry in entries:
        kind = _kind(entry.path)
        text = reader.text(entry.path, 512 * 1024)
        if kind is None or text is None:
            continue
        deps.files.append(entry.path)
        parsers[kind](entry.path, text, deps)
    for name in _PYTHON_PRIORITY:
        if name in deps._python_by_file:
            deps.python = deps._python_by_file[name]
            break
    return deps


# -- requirement strings -----------------------------------------------------------------------


def _add_requirement(line: str, source: str, deps: Dependencies, group: str | None = None) -> None:
    line = line.strip()
    if not line:
        return
    try:
        req = Requirement(line)
    except InvalidRequirement:
        egg = _EGG.search(line)
        if egg:
            deps.add(egg.group(1), line.split("#", 1)[0].strip(), source, group)
            return
        m = _NAME.match(line)
        if m and not line.startswith(("-", ".", "/", "http:", "https:", "git+")):
            deps.add(m.group(1), m.group(3).strip(), source, group)
        return
    spec = str(req.specifier)
    if req.url:
        spec = f"@ {req.url}"
    if req.marker:
        spec = f"{spec}; {req.marker}".lstrip()
    deps.add(req.name, spec, source, group)


def requirements_file_group(path: str) -> str | None:
    """What a requirements file is for when that is not running the project ("dev", "test",
    "docs", ...), read from its name and folder; None for runtime requirements."""
    match = _NOT_RUNTIME_FILE.search(path.lower().removesuffix(".txt").removesuffix(".in"))
    return match.group(1) if match else None


def _requirements(path: str, text: str, deps: Dependencies) -> None:
    group = requirements_file_group(path)
    joined = re.sub(r"\\\r?\n", " ", text)
    for raw in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        if line.startswith("-"):
            # Options (-r other.txt, --index-url ...) name no package, except editable installs.
            if line.startswith(("-e ", "--editable")):
                egg = _EGG.search(line)
                if egg:
                    deps.add(egg.group(1), "(editable)", path, group)
            continue
        _add_requirement(line, path, deps, group)


# -- pyproject.toml, Pipfile -------------------------------------------------------------------


def _load_toml(path: str, text: str, deps: Dependencies) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        deps.warnings.append(f"{path} is not valid TOML ({exc}); its dependencies were skipped.")
        return None


def _str_list(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _pyproject(path: str, text: str, deps: Dependencies) -> None:
    data = _load_toml(path, text, deps)
    if data is None:
        return
    project = _dict(data.get("project"))
    backend = _dict(data.get("build-system")).get("build-backend")
    poetry_name = _dict(_dict(data.get("tool")).get("poetry")).get("name")
    deps.set_project(path, project.get("name") or poetry_name, backend)
    deps.set_python(path, project.get("requires-python"))
    for req in _str_list(project.get("dependencies")):
        _add_requirement(req, path, deps)
    for extra, reqs in _dict(project.get("optional-dependencies")).items():
        for req in _str_list(reqs):
            _add_requirement(req, f"{path} [{extra}]", deps, extra)
    for group, reqs in _dict(data.get("dependency-groups")).items():
        for req in _str_list(reqs):  # a {include-group = ...} table is not a requirement
            _add_requirement(req, f"{path} [{group}]", deps, group)
    poetry = _dict(_dict(data.get("tool")).get("poetry"))
    _poetry_table(path, _dict(poetry.get("dependencies")), path, deps)
    for group, table in _dict(poetry.get("group")).items():
        _poetry_table(path, _dict(_dict(table).get("dependencies")), f"{path} [{group}]", deps, group)
    for group in ("dev-dependencies",):  # Poetry before 1.2
        _poetry_table(path, _dict(poetry.get(group)), f"{path} [dev]", deps, "dev")


def _poetry_table(
    path: str, table: dict[str, Any], source: str, deps: Dependencies, group: str | None = None
) -> None:
    for name, value in table.items():
        spec = value if isinstance(value, str) else _dict(value).get("version", "")
        spec = spec if isinstance(spec, str) else ""
        if name.lower() == "python":
            deps.set_python(path, spec)
            continue
        # A Poetry dependency marked optional is there for an extra only.
        optional = isinstance(value, dict) and value.get("optional") is True
        deps.add(name, "" if spec == "*" else spec, source, group or ("optional" if optional else None))


def _pipfile(path: str, text: str, deps: Dependencies) -> None:
    data = _load_toml(path, text, deps)
    if data is None:
        return
    requires = _dict(data.get("requires"))
    deps.set_python(path, requires.get("python_version") or requires.get("python_full_version"))
    for table, source, group in (("packages", path, None), ("dev-packages", f"{path} [dev]", "dev")):
        _poetry_table(path, _dict(data.get(table)), source, deps, group)


# -- setup.cfg, setup.py -----------------------------------------------------------------------


def _setup_cfg(path: str, text: str, deps: Dependencies) -> None:
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        deps.warnings.append(
            f"{path} could not be parsed ({type(exc).__name__}); its dependencies were skipped."
        )
        return
    if parser.has_section("metadata"):
        deps.set_project(path, parser.get("metadata", "name", fallback=None))
    if parser.has_section("options"):
        deps.set_python(path, parser.get("options", "python_requires", fallback=None))
        for req in _cfg_list(parser.get("options", "install_requires", fallback="")):
            _add_requirement(req, path, deps)
    if parser.has_section("options.extras_require"):
        for extra, value in parser.items("options.extras_require"):
            for req in _cfg_list(value):
                _add_requirement(req, f"{path} [{extra}]", deps, extra)


def _cfg_list(value: str) -> list[str]:
    # One requirement per line; a single-line value may separate them with ";" instead.
    items = value.strip().split("\n") if "\n" in value.strip() else value.split(";")
    return [re.sub(r"(^|\s)#.*$", "", item).strip() for item in items if item.strip()]


def _setup_py(path: str, text: str, deps: Dependencies) -> None:
    # Parsed, never executed: a setup.py can do anything when run.
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        deps.warnings.append(f"{path} is not valid Python; its dependencies were skipped.")
        return
    constants: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _literal(node.value, constants)
            if value is not None:
                constants[node.targets[0].id] = value
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name != "setup":
            continue
        for kw in call.keywords:
            value = _literal(kw.value, constants)
            if kw.arg == "install_requires":
                for req in _str_list(value):
                    _add_requirement(req, path, deps)
            elif kw.arg == "extras_require":
                for extra, reqs in _dict(value).items():
                    for req in _str_list(reqs):
                        _add_requirement(req, f"{path} [{extra}]", deps, extra)
            elif kw.arg == "name":
                deps.set_project(path, value)
            elif kw.arg == "python_requires":
                deps.set_python(path, value)


def _literal(node: ast.expr, constants: dict[str, Any]) -> Any:
    """A literal value, resolving names bound to literals earlier in the module; else None."""
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(e, constants) for e in node.elts]
        flat: list[Any] = []
        for item in items:
            if isinstance(item, str):
                flat.append(item)
        return flat
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left, constants), _literal(node.right, constants)
        if isinstance(left, list) and isinstance(right, list):
            return left + right
        return None
    if isinstance(node, ast.Dict):
        out: dict[str, Any] = {}
        for k, v in zip(node.keys, node.values, strict=False):
            key = _literal(k, constants) if k is not None else None
            if isinstance(key, str):
                out[key] = _literal(v, constants)
        return out
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


# -- conda, version files ----------------------------------------------------------------------


def _conda(path: str, text: str, deps: Dependencies) -> None:
    in_deps = False
    pip_indent: int | None = None
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        stripped = line.strip()
        if indent == 0:
            in_deps = stripped.startswith("dependencies:")
            pip_indent = None
            continue
        if not in_deps or not stripped.startswith("-"):
            continue
        item = stripped[1:].strip().strip("'\"")
        if pip_indent is not None and indent > pip_indent:
            _add_requirement(item, f"{path} (pip)", deps)
            continue
        pip_indent = None
        if item.rstrip(":") == "pip" and item.endswith(":"):
            pip_indent = indent
            continue
        m = _CONDA.match(item)
        if not m:
            continue
        name, spec = m.group(1), m.group(2).strip()
        if name == "python":
            deps.set_python(path, spec.lstrip("="))
        else:
            deps.add(name, spec, f"{path} (conda)")


def _python_version_file(path: str, text: str, deps: Dependencies) -> None:
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    if re.fullmatch(r"\d+(?:\.\d+){0,2}", first):
        deps.set_python(path, first)


def _runtime_txt(path: str, text: str, deps: Dependencies) -> None:
    m = re.match(r"\s*python-(\d+(?:\.\d+){0,2})", text)
    if m:
        deps.set_python(path, m.group(1))
