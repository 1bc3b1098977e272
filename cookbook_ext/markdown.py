"""Markdown structure as every caller reads it (READMEs, model cards, the context pack, the
offline provider): ATX and setext headings, and fenced code blocks, following CommonMark."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "CodeBlock",
    "Fence",
    "Heading",
    "Section",
    "atx_heading",
    "code_blocks",
    "headings",
    "opening_fence",
    "split_lines",
    "split_sections",
    "unclosed_fence",
]

_LINE_END = re.compile(r"\r\n|\r|\n")
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_LANG = re.compile(r"[^\s`{]*")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_ATX_CLOSING = re.compile(r"(?:^|[ \t]+)#+$")
_SETEXT_UNDERLINE = re.compile(r" {0,3}(?:=+|-+)[ \t]*")


@dataclass(frozen=True)
class Heading:
    level: int  # 1 to 6
    title: str


@dataclass(frozen=True)
class Fence:
    """The line that opens a fenced code block."""

    marker: str  # the run of backticks or tildes; the closing fence repeats at least as many
    info: str  # the rest of the line, trimmed
    indent: int = 0  # spaces before the marker, taken off each line of the code

    @property
    def lang(self) -> str:
        """The info string's first word, lower-case, as READMEs label code ("python", "py")."""
        match = _LANG.match(self.info)
        return (match.group(0) if match else "").lower().strip(".")

    def closed_by(self, line: str) -> bool:
        match = _FENCE.match(line)
        if match is None:
            return False
        marker = match.group(2)
        return marker[0] == self.marker[0] and len(marker) >= len(self.marker) and not match.group(3).strip()


@dataclass
class CodeBlock:
    lang: str
    code: str
    heading: str  # the nearest heading above the block ("" when none)
    # The headings it sits under, outermost first (the nearest one last), and the paragraph of
    # prose just before it ("" when a heading or another block comes first): what a reader is
    # told the code does. Context only: not compared, not in to_dict.
    sections: tuple[str, ...] = field(default=(), compare=False)
    lead: str = field(default="", compare=False)

    def to_dict(self) -> dict[str, str]:
        return {"lang": self.lang, "code": self.code, "heading": self.heading}


@dataclass
class Section:
    heading: str  # "" for the text before the first heading
    level: int  # 0 for the text before the first heading
    lines: list[str] = field(default_factory=list)  # the heading line first

    @property
    def text(self) -> str:
        """The section's lines, heading included, without leading or trailing blank lines."""
        return "\n".join(self.lines).strip("\n")


def split_lines(text: str) -> list[str]:
    """`text` at its line endings (\\n, \\r\\n or \\r), as CommonMark reads lines."""
    return _LINE_END.split(text)


def opening_fence(line: str) -> Fence | None:
    """The fence `line` opens, or None. A backtick fence's info string holds no backtick (else
    the line is inline code)."""
    match = _FENCE.match(line)
    if match is None:
        return None
    marker, info = match.group(2), match.group(3)
    if marker[0] == "`" and "`" in info:
        return None
    return Fence(marker=marker, info=info.strip(), indent=len(match.group(1)))


def atx_heading(line: str) -> Heading | None:
    """The `# Title` heading `line` is, or None. Fence state is the caller's (see `headings`)."""
    match = _ATX.match(line)
    if match is None:
        return None
    title = _ATX_CLOSING.sub("", match.group(2) or "").strip()
    return Heading(len(match.group(1)), title)


def headings(lines: Sequence[str]) -> list[Heading | None]:
    """For each line, the ATX heading it is, or None: text, and every line of fenced code."""
    out: list[Heading | None] = []
    fence: Fence | None = None
    for line in lines:
        if fence is not None:
            if fence.closed_by(line):
                fence = None
            out.append(None)
        elif (opened := opening_fence(line)) is not None:
            fence = opened
            out.append(None)
        else:
            out.append(atx_heading(line))
    return out


def split_sections(text: str) -> list[Section]:
    """`text` split at its ATX headings outside fenced code. The text before the first heading is
    a section of level 0 with an empty heading, left out when it is blank."""
    lines = split_lines(text)
    found: list[Section] = [Section("", 0)]
    for line, heading in zip(lines, headings(lines), strict=True):
        if heading is not None:
            found.append(Section(heading.title, heading.level, [line]))
        else:
            found[-1].lines.append(line)
    if not any(line.strip() for line in found[0].lines):
        del found[0]
    return found


def code_blocks(text: str) -> list[CodeBlock]:
    """The fenced code blocks of `text` (``` or ~~~) that hold code, each with the nearest ATX or
    setext heading above it. A fence left open runs to the end of the text."""
    blocks: list[CodeBlock] = []
    lines = split_lines(text)
    heading = ""
    stack: list[tuple[int, str]] = []  # (level, title) of the headings the text is under
    paragraph: list[str] = []  # the prose read since the last heading, block or blank line
    lead = ""  # the last paragraph since the last heading or block

    def open_section(level: int, title: str) -> None:
        nonlocal lead
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        paragraph.clear()
        lead = ""

    prev = ""  # the line before, for a setext underline; "" after a block
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = opening_fence(line)
        if fence is not None:
            if paragraph:
                lead = " ".join(paragraph)
            body: list[str] = []
            i += 1
            while i < len(lines) and not fence.closed_by(lines[i]):
                body.append(_unindent(lines[i], fence.indent))
                i += 1
            code = "\n".join(body).strip("\n")
            if code.strip():
                sections = tuple(title for _, title in stack)
                blocks.append(CodeBlock(fence.lang, code, heading, sections=sections, lead=lead))
            paragraph.clear()
            lead = ""
            i += 1
            prev = ""
            continue
        atx = atx_heading(line)
        if atx is not None:
            heading = atx.title
            open_section(atx.level, atx.title)
        elif (
            prev.strip()
            and _SETEXT_UNDERLINE.fullmatch(line)
            and not prev.lstrip().startswith(("-", "*"))
            and atx_heading(prev) is None
        ):
            heading = prev.strip()
            open_section(1 if line.strip().startswith("=") else 2, heading)
        elif line.strip():
            paragraph.append(line.strip())
        elif paragraph:
            lead = " ".join(paragraph)
            paragraph.clear()
        prev = line
        i += 1
    return blocks


def unclosed_fence(text: str) -> Fence | None:
    """The fence still open at the end of `text` (e.g. text cut short), or None."""
    fence: Fence | None = None
    for line in split_lines(text):
        if fence is None:
            fence = opening_fence(line)
        elif fence.closed_by(line):
            fence = None
    return fence


def _unindent(line: str, indent: int) -> str:
    """`line` with up to `indent` leading spaces taken off (CommonMark, for an indented fence)."""
    if not indent:
        return line
    stripped = line.lstrip(" ")
    return line[min(indent, len(line) - len(stripped)) :]
