"""Confined file access for the agent: reads and listings stay inside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cookbook_ext.errors import BadRequest, Forbidden, Invalid, NotFound
from cookbook_ext.ingest import list_repo_files, read_repo_file

TOKEN = "sk-proj-" + "Ab12_Cd34-Ef56Gh78Ij90Kl12Mn34"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    files: dict[str, str | bytes] = {
        "README.md": "# Demo\n\nline three\n",
        "src/model.py": "".join(f"line {i}\n" for i in range(1, 101)),
        "src/keys.py": f'OPENAI = "{TOKEN}"\n',
        "src/latin1.py": b"# caf\xe9\nx = 1\n",
        "assets/logo.png": b"\x89PNG\r\n\x1a\n\0\0",
        "data/blob.dat": b"abc\0def",
        "noeol.txt": "a\nb",
        "empty.txt": "",
        ".gitignore": "build/\n",
        "build/gen.py": "x = 1\n",
        ".git/config": "[core]\n",
    }
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    outside = tmp_path / "outside.txt"
    outside.write_text("secret outside\n")
    os.symlink(outside, root / "link_out.txt")
    os.symlink("../..", root / "src" / "up")
    os.symlink("model.py", root / "src" / "alias.py")
    return root


def test_reads_a_file_with_line_accounting(repo: Path) -> None:
    assert read_repo_file(repo, "README.md") == {
        "path": "README.md",
        "content": "# Demo\n\nline three\n",
        "start_line": 1,
        "end_line": 3,
        "total_lines": 3,
        "truncated": False,
        "masked": 0,
    }


def test_reads_a_line_range(repo: Path) -> None:
    out = read_repo_file(repo, "src/model.py", start_line=10, end_line=12)
    assert out["content"] == "line 10\nline 11\nline 12\n"
    assert (out["start_line"], out["end_line"], out["total_lines"]) == (10, 12, 100)


def test_end_line_past_the_end_stops_at_the_last_line(repo: Path) -> None:
    out = read_repo_file(repo, "src/model.py", start_line=99, end_line=500)
    assert out["content"] == "line 99\nline 100\n"
    assert out["end_line"] == 100


def test_start_line_past_the_end_is_a_bad_request(repo: Path) -> None:
    with pytest.raises(BadRequest, match="has 100 lines"):
        read_repo_file(repo, "src/model.py", start_line=101)


@pytest.mark.parametrize(("start", "end"), [(0, None), (-1, None), (5, 4), (None, 0)])
def test_invalid_line_numbers_are_bad_requests(repo: Path, start: int | None, end: int | None) -> None:
    with pytest.raises(BadRequest):
        read_repo_file(repo, "src/model.py", start_line=start, end_line=end)


def test_big_reads_are_cut_at_a_whole_line(repo: Path) -> None:
    out = read_repo_file(repo, "src/model.py", max_bytes=30)
    assert out["truncated"] is True
    assert out["content"] == "line 1\nline 2\nline 3\nline 4\n"
    assert out["end_line"] == 4 and out["total_lines"] == 100


def test_one_huge_line_is_cut_inside_the_line(tmp_path: Path) -> None:
    (tmp_path / "min.js").write_text("var a=1;" * 100_000)
    out = read_repo_file(tmp_path, "min.js", max_bytes=1000)
    assert out["truncated"] is True and len(out["content"]) == 1000
    assert (out["start_line"], out["end_line"], out["total_lines"]) == (1, 1, 1)


def test_credentials_are_masked(repo: Path) -> None:
    out = read_repo_file(repo, "src/keys.py")
    assert TOKEN not in out["content"]
    assert out["content"] == 'OPENAI = "[REDACTED:openai]"\n'
    assert out["masked"] == 1


def test_non_utf8_is_decoded_with_replacement(repo: Path) -> None:
    assert read_repo_file(repo, "src/latin1.py")["content"] == "# caf\ufffd\nx = 1\n"


def test_file_without_final_newline_and_empty_file(repo: Path) -> None:
    assert read_repo_file(repo, "noeol.txt")["total_lines"] == 2
    empty = read_repo_file(repo, "empty.txt")
    assert (empty["content"], empty["total_lines"]) == ("", 0)


def test_in_repo_symlink_to_a_file_is_read(repo: Path) -> None:
    assert read_repo_file(repo, "src/alias.py", end_line=1)["content"] == "line 1\n"


@pytest.mark.parametrize("path", ["assets/logo.png", "data/blob.dat"])
def test_binary_files_are_refused(repo: Path, path: str) -> None:
    with pytest.raises(Invalid, match="binary"):
        read_repo_file(repo, path)


@pytest.mark.parametrize(
    "path",
    [
        "../outside.txt",
        "src/../../outside.txt",
        "/etc/passwd",
        "~/x",
        "C:/Windows",
        "link_out.txt",
        "src/up/outside.txt",
        ".git/config",
        "src\\..\\..\\outside.txt",
    ],
)
def test_paths_leaving_the_checkout_are_forbidden(repo: Path, path: str) -> None:
    with pytest.raises(Forbidden):
        read_repo_file(repo, path)


@pytest.mark.parametrize("path", ["", "   ", "src/\x00model.py"])
def test_empty_paths_and_nul_bytes_are_bad_requests(repo: Path, path: str) -> None:
    with pytest.raises(BadRequest):
        read_repo_file(repo, path)


def test_missing_file_is_not_found(repo: Path) -> None:
    with pytest.raises(NotFound, match="no file 'nope.py'"):
        read_repo_file(repo, "nope.py")


def test_folder_is_not_a_file(repo: Path) -> None:
    with pytest.raises(BadRequest, match="is a folder"):
        read_repo_file(repo, "src")


def test_dot_segments_are_normalised(repo: Path) -> None:
    assert read_repo_file(repo, "./src//model.py", end_line=1)["path"] == "src/model.py"


def test_lists_files_sorted_without_git_ignored_or_escaping_links(repo: Path) -> None:
    files = list_repo_files(repo)
    assert files == sorted(files, key=lambda p: p.split("/"))  # tree order: sorted, depth first
    assert "README.md" in files and "src/model.py" in files and "src/alias.py" in files
    assert not any(p.startswith((".git/", "build/")) for p in files)
    assert "link_out.txt" not in files and not any(p.startswith("src/up") for p in files)


def test_lists_a_folder_with_a_pattern(repo: Path) -> None:
    assert list_repo_files(repo, "src", "*.py") == [
        "src/alias.py",
        "src/keys.py",
        "src/latin1.py",
        "src/model.py",
    ]
    assert list_repo_files(repo, None, "src/m*.py") == ["src/model.py"]
    assert list_repo_files(repo, "src", "m*.py") == ["src/model.py"]


def test_listing_respects_the_limit(repo: Path) -> None:
    assert len(list_repo_files(repo, limit=2)) == 2


@pytest.mark.parametrize("limit", [0, -1, 10**6])
def test_listing_limit_must_be_sane(repo: Path, limit: int) -> None:
    with pytest.raises(BadRequest):
        list_repo_files(repo, limit=limit)


@pytest.mark.parametrize(
    ("folder", "error"),
    [
        ("../", Forbidden),
        ("/", Forbidden),
        ("nope", NotFound),
        ("README.md", BadRequest),
        ("link_out.txt", Forbidden),
    ],
)
def test_listing_folder_is_confined_like_reads(repo: Path, folder: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        list_repo_files(repo, folder)
