"""Reading one recipe file: safe YAML (no tags, no aliases), the format's models, the instructions
compiled in the sandbox. A file that is wrong gives a `LoadError` naming its line, never an
exception, so one broken file leaves the others working."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jinja2 import TemplateSyntaxError
from pydantic import ValidationError

from .format import RecipeSpec
from .render import RecipeTemplate, compile_instructions, undeclared_names

RECIPE_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadError:
    """What GET cookbook/recipes reports for a file that could not be loaded."""

    file: str
    line: int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "message": self.message}


@dataclass(frozen=True)
class Origin:
    """Where a recipe file sits: `kind` builtin, pack, user or admin (in that order of precedence,
    lowest first), its folder, and the pack it came with."""

    kind: str
    folder: Path
    pack: str | None = None
    rank: int = 0  # the folder's place in the order; a higher one overrides a lower one by id


@dataclass(frozen=True)
class RecipeFile:
    spec: RecipeSpec
    template: RecipeTemplate
    path: Path
    origin: Origin
    sha256: str = ""  # of the file's bytes
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def version(self) -> str:
        return self.spec.version


class _RecipeYaml(yaml.SafeLoader):
    """SafeLoader without aliases: `&a [*a, *a, ...]` nests exponentially on the way in."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(
                problem="YAML aliases (*name) are not allowed in recipe files", problem_mark=event.start_mark
            )
        return super().compose_node(parent, index)


class _FileProblem(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_recipe_file(path: Path, origin: Origin, *, max_bytes: int) -> RecipeFile | LoadError:
    """The recipe in `path`, or what is wrong with it."""
    shown = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return LoadError(
                shown, None, f"The file is {_size(size)}; a recipe file may be at most {_size(max_bytes)}."
            )
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as err:
        return LoadError(shown, None, f"The file cannot be read: {err.strerror or err}.")
    if len(raw) > max_bytes:  # it grew since stat
        return LoadError(shown, None, f"The file is larger than the {_size(max_bytes)} a recipe file may be.")
    try:
        spec, template = parse_recipe(raw, filename=shown)
    except _FileProblem as problem:
        return LoadError(shown, problem.line, problem.message)
    import hashlib

    return RecipeFile(
        spec=spec, template=template, path=path, origin=origin, sha256=hashlib.sha256(raw).hexdigest()
    )


def parse_recipe(raw: bytes, *, filename: str) -> tuple[RecipeSpec, RecipeTemplate]:
    """The recipe in `raw` (a file's bytes); _FileProblem (line, message) when it is not one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise _FileProblem(line, "The file is not UTF-8 text.") from None
    if "\x00" in text:
        raise _FileProblem(text[: text.index("\x00")].count("\n") + 1, "The file contains a NUL character.")
    loader = _RecipeYaml(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise _FileProblem(1, "The file is empty: a recipe is a YAML mapping (id, version, title, ...).")
        _refuse_duplicate_keys(node)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        what = " ".join(p for p in (err.context, err.problem) if p)
        raise _FileProblem(mark.line + 1 if mark is not None else None, f"Not valid YAML: {what}.") from None
    except yaml.YAMLError as err:
        raise _FileProblem(None, f"Not valid YAML: {err}.") from None
    except RecursionError:
        raise _FileProblem(None, "The YAML is nested too deeply.") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise _FileProblem(
            node.start_mark.line + 1, "A recipe file is a YAML mapping (id, version, title, ...)."
        )
    try:
        spec = RecipeSpec.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = tuple(p for p in first["loc"] if p != "[key]")
        where = ".".join(str(p) for p in loc) or "the file"
        raise _FileProblem(_line_of(node, loc), f"{where}: {first['msg']}") from None
    except RecursionError:
        raise _FileProblem(None, "The YAML is nested too deeply.") from None
    instructions = _value_node(node, ("instructions",))
    offset = 0
    if instructions is not None:
        offset = instructions.start_mark.line + (
            1 if getattr(instructions, "style", None) in ("|", ">") else 0
        )
    try:
        template = compile_instructions(spec.instructions, filename=filename, line_offset=offset)
        unknown = sorted(undeclared_names(spec.instructions) - set(spec.inputs))
    except TemplateSyntaxError as err:
        raise _FileProblem(
            offset + err.lineno if err.lineno else None, f"instructions: Jinja2 syntax error: {err.message}"
        ) from None
    if unknown:
        names = ", ".join(f"{{{{ {n} }}}}" for n in unknown)
        raise _FileProblem(
            offset + 1 if instructions is not None else None,
            f"instructions: uses {names}, which "
            f"{'is not an input' if len(unknown) == 1 else 'are not inputs'} of this recipe "
            f"(its inputs: {', '.join(spec.inputs) or 'none'}).",
        )
    return spec, template


def _refuse_duplicate_keys(node: Any) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    raise _FileProblem(key.start_mark.line + 1, f"The key {key.value!r} appears twice.")
                seen.add(key.value)
            _refuse_duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item)


def _nodes(node: Any, loc: tuple[Any, ...]) -> tuple[Any, Any]:
    """(the key node, the value node) at `loc` (mapping keys, sequence indexes); as far as the
    path goes in the document when it leaves it (an unknown key, say)."""
    key_node, current = None, node
    for part in loc:
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    key_node, current = key, value
                    break
            else:
                return key_node, current
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            key_node, current = current.value[part], current.value[part]
        else:
            return key_node, current
    return key_node, current


def _value_node(node: Any, loc: tuple[Any, ...]) -> Any:
    return _nodes(node, loc)[1]


def _line_of(node: Any, loc: tuple[Any, ...]) -> int | None:
    """The file line to point at for a problem at `loc`: the key's line for a mapping or a list
    (where the input or section starts), the value's own line for a scalar."""
    key, value = _nodes(node, loc)
    if isinstance(value, yaml.MappingNode) and loc:
        for k, _v in value.value:  # an unknown key inside the mapping: point at it
            if isinstance(k, yaml.ScalarNode) and k.value == str(loc[-1]):
                return int(k.start_mark.line) + 1
    if isinstance(value, yaml.MappingNode | yaml.SequenceNode) and key is not None:
        return int(key.start_mark.line) + 1
    return int(value.start_mark.line) + 1 if value is not None else None


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    return f"{max(1, round(n / 1024))} kB"


def recipe_files(folder: Path, *, recursive: bool = False) -> list[Path]:
    """The recipe files in `folder`, by name (dot files and folders left out)."""
    out: list[Path] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return out
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_file() and entry.name.endswith(RECIPE_SUFFIXES):
                out.append(Path(entry.path))
            elif recursive and entry.is_dir(follow_symlinks=False):
                out.extend(recipe_files(Path(entry.path), recursive=True))
        except OSError:
            continue
    return out
