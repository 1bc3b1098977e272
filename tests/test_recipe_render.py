"""Rendering a recipe's instructions in the sandbox: strict names, no escape, bounded sizes, and a
deadline that stops a template that loops forever."""

from __future__ import annotations

import threading
import time

import pytest
from jinja2 import TemplateSyntaxError

from cookbook_ext.errors import Invalid
from cookbook_ext.recipes.render import compile_instructions, render_instructions


def render(source: str, timeout: float = 2.0, **values) -> str:
    template = compile_instructions(source, filename="/r/recipe.yaml", line_offset=20)
    return render_instructions(template, values, recipe="r 1.0.0", timeout=timeout)


def refused(source: str, timeout: float = 2.0, **values) -> Invalid:
    with pytest.raises(Invalid) as err:
        render(source, timeout=timeout, **values)
    assert err.value.status == 422
    return err.value


def test_inputs_fill_the_template():
    text = "Use {{ model }}{% if n > 1 %} {{ n }} times{% endif %}: {{ items | join(', ') }}."
    assert render(text, model="acme/tiny", n=3, items=["a", "b"]) == "Use acme/tiny 3 times: a, b."


def test_an_undefined_name_is_an_error_not_an_empty_string():
    error = refused("Hello {{ nme }}", name="x")
    assert error.code == "template_error" and "nme" in error.message


def test_the_same_inputs_always_render_the_same_text():
    # Nothing random (no `random` filter, no lipsum): the hash a generation records is stable.
    with pytest.raises(TemplateSyntaxError, match="random"):
        render("{{ [1, 2, 3] | random }}")
    assert refused("{{ lipsum() }}").code == "template_error"
    assert render("{{ a }} {{ b }}", a=1, b=[2]) == render("{{ a }} {{ b }}", a=1, b=[2]) == "1 [2]"


@pytest.mark.parametrize(
    "source",
    [
        "{{ name.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ name.upper.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{% set l = [] %}{{ l.append(1) }}",
        "{% set d = {} %}{{ d.update(a=1) }}",
        "{{ name.format_map.__self__ }}",
    ],
)
def test_forbidden_attributes_are_refused_with_the_line(source):
    error = refused("fine\n" + source, name="x")
    assert error.code in ("template_forbidden", "template_error")
    if error.code == "template_forbidden":
        assert error.details["line"] == 22  # the template's line 2, offset by its place in the file
        assert "/r/recipe.yaml, line 22" in error.message


def test_a_template_that_loops_forever_stops_at_the_deadline():
    started = time.monotonic()
    error = refused(
        "{% for a in range(10000) %}{% for b in range(10000) %}{% for c in range(10000) %}"
        "{% endfor %}{% endfor %}{% endfor %}",
        timeout=0.5,
    )
    elapsed = time.monotonic() - started
    assert error.code == "template_timeout" and "0.5 s" in error.message
    assert elapsed < 5, elapsed


def test_a_recursive_macro_is_an_error():
    assert refused("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}").code == "template_error"


def test_the_deadline_leaves_no_thread_behind():
    before = threading.active_count()
    refused("{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}", timeout=0.2)
    assert threading.active_count() == before


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 1000000000 }}",
        "{{ range(100000000) | list | length }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ '%0999999999d' | format(1) }}",
        "{{ ('a' * 100000) | replace('', 'bbbbbbbbbb') }}",
        "{{ range(10000) | join('x' * 100000) }}",
        "{{ 'x' | center(1000000000) }}",
        "{{ 'x'.ljust(1000000000) }}",
        "{{ 2 ** 100000000 }}",
        "{% macro f(s, n) %}{% if n %}{{ f(s ~ s, n - 1) }}{% else %}{{ s | length }}{% endif %}"
        "{% endmacro %}{{ f('a', 64) }}",
    ],
)
def test_a_template_cannot_make_more_than_the_sandbox_allows(source):
    started = time.monotonic()
    error = refused(source)
    assert error.code == "template_forbidden", error.message
    assert time.monotonic() - started < 1.5  # refused before the work, not stopped by the deadline


def test_the_rendered_instructions_are_bounded():
    error = refused("{% for i in range(10000) %}{{ 'x' * 100 }}{% endfor %}")
    assert error.code == "template_forbidden" and "rendered instructions" in error.message
