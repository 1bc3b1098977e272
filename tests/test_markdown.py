"""Markdown structure, read one way everywhere: headings, fenced code blocks, sections."""

from __future__ import annotations

from cookbook_ext.markdown import (
    Heading,
    atx_heading,
    code_blocks,
    headings,
    opening_fence,
    split_lines,
    split_sections,
    unclosed_fence,
)


def test_atx_headings_give_level_and_title() -> None:
    assert atx_heading("# Title") == Heading(1, "Title")
    assert atx_heading("   ### Deep") == Heading(3, "Deep")
    assert atx_heading("###### Six") == Heading(6, "Six")


def test_a_closing_hash_sequence_is_not_part_of_the_title() -> None:
    assert atx_heading("## Usage ##") == Heading(2, "Usage")
    assert atx_heading("## Usage in C#") == Heading(2, "Usage in C#")


def test_a_bare_hash_is_an_empty_heading() -> None:
    assert atx_heading("#") == Heading(1, "")
    assert atx_heading("### ###") == Heading(3, "")


def test_lines_that_are_not_atx_headings() -> None:
    for line in ("#hashtag", "####### seven", "    # indented code", "text # not"):
        assert atx_heading(line) is None, line


def test_fences_open_with_backticks_or_tildes_and_a_language() -> None:
    fence = opening_fence("```python")
    assert fence is not None and (fence.marker, fence.lang) == ("```", "python")
    fence = opening_fence('~~~~py title="x.py"')
    assert fence is not None and (fence.marker, fence.lang, fence.info) == ("~~~~", "py", 'py title="x.py"')
    assert opening_fence("``") is None
    assert opening_fence("    ```python") is None  # indented code, not a fence


def test_a_backtick_line_with_backticks_after_is_inline_code_not_a_fence() -> None:
    assert opening_fence("```foo`bar```") is None
    assert opening_fence("~~~ uses `ticks`") is not None


def test_a_fence_closes_with_at_least_as_many_of_the_same_marker() -> None:
    fence = opening_fence("````")
    assert fence is not None
    assert fence.closed_by("````") and fence.closed_by("`````  ")
    assert not fence.closed_by("```")
    assert not fence.closed_by("~~~~")
    assert not fence.closed_by("```` python")


def test_code_blocks_carry_language_code_and_nearest_heading() -> None:
    text = "# Title\n\n## Usage\n\n```Python\nprint(1)\n```\n\nSetext\n------\n\n~~~\nx = 2\n~~~\n"
    blocks = code_blocks(text)
    assert [(b.lang, b.code, b.heading) for b in blocks] == [
        ("python", "print(1)", "Usage"),
        ("", "x = 2", "Setext"),
    ]


def test_a_fence_inside_a_longer_fence_is_code() -> None:
    [block] = code_blocks("````markdown\n```python\nnested = True\n```\n````\n")
    assert block.code == "```python\nnested = True\n```"


def test_an_unclosed_fence_runs_to_the_end_and_empty_blocks_are_left_out() -> None:
    assert [b.code for b in code_blocks("```\n```\n```python\nx = 1\n")] == ["x = 1"]


def test_an_indented_fence_takes_its_indent_off_the_code() -> None:
    [block] = code_blocks("- step\n  ```python\n  if x:\n      y()\n  ```\n")
    assert block.code == "if x:\n    y()"


def test_a_rule_under_a_heading_is_not_a_setext_heading() -> None:
    [block] = code_blocks("# Real\n---\n```\ncode\n```\n")
    assert block.heading == "Real"


def test_headings_inside_code_are_not_headings() -> None:
    lines = ["# Title", "```python", "# a comment", "```", "## Next", "text"]
    assert headings(lines) == [Heading(1, "Title"), None, None, None, Heading(2, "Next"), None]


def test_sections_split_at_headings_outside_fences() -> None:
    text = "Intro\n# Title\nbody\n```\n# not a heading\n```\n## Sub\nx\n"
    found = split_sections(text)
    assert [(s.level, s.heading) for s in found] == [(0, ""), (1, "Title"), (2, "Sub")]
    assert found[1].text == "# Title\nbody\n```\n# not a heading\n```"
    assert found[1].lines[0] == "# Title"


def test_a_blank_preface_is_not_a_section() -> None:
    assert [s.heading for s in split_sections("\n\n# Only\ntext")] == ["Only"]


def test_the_fence_left_open_at_the_end_is_found() -> None:
    fence = unclosed_fence("text\n````python\ncode\n```\nmore")
    assert fence is not None and fence.marker == "````"
    assert unclosed_fence("```\ncode\n```\n") is None


def test_lines_split_at_any_line_ending() -> None:
    assert split_lines("a\r\nb\rc\nd") == ["a", "b", "c", "d"]
