"""Rendering a recipe's instructions: Jinja2 in a sandbox that a hostile recipe file (a pack from
a catalogue, say) cannot escape, stall or use to fill the server's memory.

- `ImmutableSandboxedEnvironment` (a SandboxedEnvironment that also refuses to mutate lists and
  dicts): no private or internal attributes, no `namespace` to carry state out of a loop;
  `StrictUndefined`, so a misspelt name is an error rather than an empty string.
- Sizes are bounded where they grow: `range`, `*`, `+`, `~`, string formatting, and the filters
  and string methods that multiply their input (`join`, `replace`, `indent`, `center`, ...).
- Time is bounded: the render runs under a trace function that stops it at the deadline, so a
  template that loops (nested `range`s, a recursive macro) ends with an error, not a busy thread.
"""

from __future__ import annotations

import functools
import inspect
import re
import string
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

from jinja2 import StrictUndefined, Template, meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..errors import Invalid

MAX_RANGE = 10_000  # items of one range()
MAX_INT_ARGUMENT = 1_000  # a width, a count or a repeat given to a filter or a string method
MAX_VALUE_CHARS = 200_000  # one string or list made while rendering
MAX_OUTPUT_CHARS = 200_000  # the rendered instructions
MAX_INT_BITS = 4096  # an integer made by * or **
DEFAULT_TIMEOUT = 2.0  # seconds

__all__ = [
    "DEFAULT_TIMEOUT",
    "RecipeTemplate",
    "compile_instructions",
    "render_instructions",
    "undeclared_names",
]


class RenderTimeout(BaseException):
    """Raised into the template's frames at the deadline. A BaseException so that no `except
    Exception` in Jinja's runtime can swallow it and let the loop go on."""


def _too_big(what: str, size: int, limit: int) -> SecurityError:
    return SecurityError(f"{what} would be {size:,} long, more than the {limit:,} a recipe may make")


def _check_size(value: Any, what: str) -> Any:
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_VALUE_CHARS:
        raise _too_big(what, len(value), MAX_VALUE_CHARS)
    return value


def _check_int(value: Any, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT_ARGUMENT:
        raise SecurityError(f"{what}: {value} is larger than the {MAX_INT_ARGUMENT} a recipe may use")


def _bounded_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise SecurityError(f"range() of {len(rng):,} items; a recipe may make at most {MAX_RANGE:,}")
    return rng


def _format_spec_numbers(fmt: str) -> list[int]:
    """The numbers inside a str.format string's replacement fields (widths, precisions)."""
    found: list[int] = []
    try:
        for _literal, _field, spec, _conv in string.Formatter().parse(fmt):
            found.extend(int(n) for n in re.findall(r"\d+", spec or ""))
    except ValueError:
        pass  # a malformed format string fails when it is used
    return found


def _printf_numbers(fmt: str) -> list[int]:
    """The widths and precisions of a printf-style (`%`) format string; `*` counts as huge."""
    found: list[int] = []
    for match in re.finditer(r"%[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?", fmt):
        for part in match.groups():
            if part == "*":
                found.append(MAX_INT_ARGUMENT + 1)
            elif part:
                found.append(int(part))
    return found


# Filters whose output can be much larger than their input: the size they would make, estimated
# before they run (they run in C, past the reach of the deadline).
def _estimate(name: str, bound: Mapping[str, Any]) -> int:
    if name == "join":
        value, sep = bound.get("value"), bound.get("d", "")
        if isinstance(value, list | tuple | range):
            return sum(len(str(v)) for v in value) + len(str(sep)) * max(0, len(value) - 1)
    elif name == "replace":
        s, old, new = str(bound.get("s", "")), str(bound.get("old", "")), str(bound.get("new", ""))
        return len(s) + (s.count(old) if old else len(s) + 1) * max(0, len(new) - len(old))
    elif name == "indent":
        s, width = str(bound.get("s", "")), bound.get("width", 4)
        width_len = len(width) if isinstance(width, str) else int(width or 0)
        return len(s) + (s.count("\n") + 1) * width_len
    return 0


def _guard_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    skip_first = getattr(fn, "jinja_pass_arg", None) is not None  # the context or environment
    try:
        signature: inspect.Signature | None = inspect.signature(fn)
    except (TypeError, ValueError):
        signature = None

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        given = args[1:] if skip_first else args
        for i, arg in enumerate(given[1:], start=1):  # given[0] is the value being filtered
            _check_int(arg, f"the {name} filter's argument {i}")
        for key, arg in kwargs.items():
            _check_int(arg, f"the {name} filter's {key}")
        if name == "format" and given and isinstance(given[0], str):
            for number in _printf_numbers(given[0]):
                _check_int(number, "a width in the format filter's format")
        if signature is not None and name in ("join", "replace", "indent"):
            try:
                bound = signature.bind(*args, **kwargs).arguments
            except TypeError:
                bound = {}
            size = _estimate(name, bound)
            if size > MAX_VALUE_CHARS:
                raise _too_big(f"the {name} filter's result", size, MAX_VALUE_CHARS)
        return _check_size(fn(*args, **kwargs), f"the {name} filter's result")

    return guarded


_AMPLIFYING_STR_METHODS = frozenset({"replace", "join", "expandtabs", "center", "ljust", "rjust", "zfill"})


class _CheckedConcat(CodeGenerator):
    """`a ~ b` joins through the environment, which bounds the result."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _CheckedConcat

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
        # Nothing that carries state out of a loop (namespace) or differs between two renders
        # of the same inputs (lipsum, random): the same inputs give the same instructions, and
        # the same hash in the generation's record.
        self.globals = {"range": _bounded_range, "dict": dict}
        self.filters = {
            name: _guard_filter(name, fn) for name, fn in self.filters.items() if name not in ("random",)
        }

    def checked_concat(self, parts: tuple[Any, ...]) -> str:
        out = "".join(str(p) for p in parts)
        return _check_size(out, "a ~ concatenation")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        seqs = (str, list, tuple)
        if operator == "%" and isinstance(left, str):
            raise SecurityError("printf-style % formatting is not available; use the format filter")
        if operator == "*":
            if isinstance(left, seqs) and isinstance(right, int):
                size = len(left) * max(right, 0)
                if size > MAX_VALUE_CHARS:
                    raise _too_big("a * repetition", size, MAX_VALUE_CHARS)
            elif isinstance(right, seqs) and isinstance(left, int):
                return self.call_binop(context, operator, right, left)
            elif isinstance(left, int) and isinstance(right, int):
                if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                    raise SecurityError("a * product is too large a number")
        if operator == "**" and isinstance(left, int) and isinstance(right, int):
            if abs(left) > 1 and right > 0 and left.bit_length() * right > MAX_INT_BITS:
                raise SecurityError("a ** power is too large a number")
        if operator == "+" and isinstance(left, seqs) and isinstance(right, seqs):
            size = len(left) + len(right)
            if size > MAX_VALUE_CHARS:
                raise _too_big("a + concatenation", size, MAX_VALUE_CHARS)
        return _check_size(super().call_binop(context, operator, left, right), f"a {operator} result")

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str) and name in _AMPLIFYING_STR_METHODS or name in ("format", "format_map"):
            for arg in [*args, *kwargs.values()]:
                _check_int(arg, f"the argument of {name}()")
                if isinstance(arg, Mapping):
                    for value in arg.values():
                        _check_int(value, f"a value given to {name}()")
            if isinstance(owner, str):
                size = 0
                if name == "replace" and len(args) >= 2:
                    old, new = str(args[0]), str(args[1])
                    size = len(owner) + (owner.count(old) if old else len(owner) + 1) * len(new)
                elif name == "join" and args and isinstance(args[0], list | tuple | range):
                    size = sum(len(str(v)) for v in args[0]) + len(owner) * len(args[0])
                elif name == "expandtabs":
                    size = len(owner) + owner.count("\t") * int(args[0] if args else 8)
                if size > MAX_VALUE_CHARS:
                    raise _too_big(f"{name}()", size, MAX_VALUE_CHARS)
        return _check_size(
            super().call(__context, __obj, *args, **kwargs), f"the result of {name or 'a call'}()"
        )

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            for number in _format_spec_numbers(value.__self__):
                _check_int(number, "a width in a format string")
        return wrapped


_ENV: _Sandbox | None = None


def _env() -> _Sandbox:
    global _ENV
    if _ENV is None:
        _ENV = _Sandbox()
    return _ENV


class RecipeTemplate:
    """A recipe's compiled instructions. `line_offset` is the file line the template starts on,
    so errors name lines of the recipe file."""

    def __init__(self, template: Template, *, filename: str, line_offset: int) -> None:
        self.template = template
        self.filename = filename
        self.line_offset = line_offset


def compile_instructions(source: str, *, filename: str, line_offset: int = 0) -> RecipeTemplate:
    """The template, compiled; TemplateSyntaxError (with `lineno` in the template) when it is not."""
    env = _env()
    code = env.compile(source, name=filename, filename=filename)
    template = env.template_class.from_code(env, code, env.make_globals(None))
    return RecipeTemplate(template, filename=filename, line_offset=line_offset)


def undeclared_names(source: str) -> set[str]:
    """The variables a template reads that it does not set itself (minus the sandbox's globals)."""
    return meta.find_undeclared_variables(_env().parse(source)) - set(_env().globals)


def render_instructions(
    compiled: RecipeTemplate,
    values: Mapping[str, Any],
    *,
    recipe: str,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """The instructions for these input values. Invalid (422) for a template that fails, reaches
    for what the sandbox forbids, makes too much or runs past `timeout` seconds; the message
    names the recipe, the file and the line."""
    deadline = time.monotonic() + timeout

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise RenderTimeout
        return tracer

    previous = sys.gettrace()
    chunks: list[str] = []
    total = 0
    sys.settrace(tracer)
    try:
        for chunk in compiled.template.generate(**values):
            total += len(chunk)
            if total > MAX_OUTPUT_CHARS:
                raise _too_big("the rendered instructions", total, MAX_OUTPUT_CHARS)
            chunks.append(chunk)
    except RenderTimeout as exc:
        raise _error(
            compiled,
            recipe,
            exc,
            f"rendering took longer than {timeout:g} s (does the template loop forever?)",
            "template_timeout",
        ) from None
    except SecurityError as exc:
        raise _error(compiled, recipe, exc, f"the sandbox refused it: {exc}", "template_forbidden") from None
    except UndefinedError as exc:
        raise _error(compiled, recipe, exc, str(exc), "template_error") from None
    except RecursionError as exc:
        raise _error(compiled, recipe, exc, "the template recurses too deeply", "template_error") from None
    except MemoryError as exc:
        raise _error(compiled, recipe, exc, "the template ran out of memory", "template_error") from None
    except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError, AttributeError) as exc:
        raise _error(compiled, recipe, exc, f"{type(exc).__name__}: {exc}", "template_error") from None
    finally:
        sys.settrace(previous)
    return "".join(chunks).strip()


def _error(compiled: RecipeTemplate, recipe: str, exc: BaseException, what: str, code: str) -> Invalid:
    line = _template_line(compiled, exc)
    where = f"{compiled.filename}, line {line}" if line else compiled.filename
    return Invalid(
        f"The instructions of the recipe {recipe} cannot be rendered ({where}): {what}",
        code=code,
        details={"template": recipe, "file": compiled.filename, "line": line},
    )


def _template_line(compiled: RecipeTemplate, exc: BaseException) -> int | None:
    """The file line of the innermost template frame in `exc`'s traceback."""
    template = compiled.template
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename != compiled.filename:
            continue
        # Jinja rewrites the frames of errors it handles to carry template lines; frames of its
        # generated module (the deadline's) carry Python lines, mapped through its debug info.
        if (
            frame.f_globals.get("__jinja_template__") is not None
            or frame.f_code.co_name
            in (
                "root",
                "block_",
            )
            or frame.f_code.co_name.startswith(("block_", "macro"))
        ):
            mapped = template.get_corresponding_lineno(lineno)
        else:
            mapped = lineno
        line = mapped
    return line + compiled.line_offset if line else None
