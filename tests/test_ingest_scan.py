"""The file tree: .gitignore honoured, files classified by name and size without being read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cookbook_ext.errors import TooLarge
from cookbook_ext.ingest.scan import TextReader, classify, scan_tree


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)


def kinds(root: Path, **limits: int) -> dict[str, str]:
    result = scan_tree(
        root,
        max_files=limits.get("max_files", 1000),
        max_bytes=limits.get("max_bytes", 10**9),
        max_file_bytes=limits.get("max_file_bytes", 1_000_000),
        label="test repo",
    )
    return {f.path: f.kind for f in result.files}


@pytest.mark.parametrize(
    ("path", "size", "kind"),
    [
        ("src/model.py", 100, "code"),
        ("README.md", 100, "doc"),
        ("LICENSE", 100, "doc"),
        ("docs/guide.rst", 100, "doc"),
        ("pyproject.toml", 100, "text"),
        ("requirements-dev.txt", 100, "text"),
        ("Dockerfile", 100, "text"),
        ("history.py", 100, "code"),
        ("tutorial.ipynb", 100, "notebook"),
        ("weights/model.safetensors", 100, "binary"),
        ("docs/figure.PNG", 100, "binary"),
        ("poetry.lock", 100, "lock"),
        ("package-lock.json", 100, "lock"),
        ("third_party/lib/util.py", 100, "vendored"),
        ("static/app.min.js", 100, "vendored"),
        ("tokenizer/vocab.json", 100, "data"),
        ("tokenizer/merges.txt", 100, "data"),
        ("data/train.csv", 100, "data"),
        ("config/big.json", 300_000, "data"),
        ("config/small.json", 3_000, "text"),
        ("src/huge.py", 2_000_000, "too_large"),
    ],
)
def test_files_are_classified_by_name_and_size(path: str, size: int, kind: str) -> None:
    assert classify(path, size, 1_000_000) == kind


def test_unknown_extensions_are_sniffed() -> None:
    assert classify("bin/tool", 10, 1000, sniff=b"\x7fELF\0\0\0") == "binary"
    assert classify("bin/run", 10, 1000, sniff=b"#!/bin/sh\necho hi\n") == "code"
    assert classify("NOTES", 10, 1000, sniff=b"plain words") == "text"


def test_gitignore_patterns_apply_and_ignored_folders_are_not_entered(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".gitignore": "build/\n*.log\n!keep.log\n",
            "build/out.py": "x",
            "build/deep/more.py": "x",
            "app.log": "x",
            "keep.log": "x",
            "main.py": "x",
        },
    )
    found = kinds(tmp_path)
    assert found["build/"] == "ignored"
    assert not any(p.startswith("build/") and p != "build/" for p in found)
    assert found["app.log"] == "ignored"
    assert found["keep.log"] == "data"  # re-included by "!keep.log"
    assert found["main.py"] == "code"


def test_nested_gitignore_applies_to_its_folder_only(tmp_path: Path) -> None:
    write(tmp_path, {"pkg/.gitignore": "*.tmp\n", "pkg/a.tmp": "x", "other/b.tmp": "x"})
    found = kinds(tmp_path)
    assert found["pkg/a.tmp"] == "ignored"
    assert found["other/b.tmp"] != "ignored"


def test_git_dir_is_skipped_and_tool_folders_are_pruned(tmp_path: Path) -> None:
    write(tmp_path, {".git/config": "x", "node_modules/x/index.js": "x", ".venv/lib/a.py": "x", "a.py": "x"})
    found = kinds(tmp_path)
    assert not any(p.startswith(".git") for p in found)
    assert found["node_modules/"] == "ignored" and found[".venv/"] == "ignored"
    assert "node_modules/x/index.js" not in found


def test_symlinks_out_of_the_tree_are_listed_but_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, {"secret.txt": "top secret"})
    repo = tmp_path / "repo"
    write(repo, {"README.md": "# hi", "docs/real.md": "real"})
    os.symlink(outside / "secret.txt", repo / "leak.txt")
    os.symlink(outside, repo / "leakdir")
    os.symlink("docs/real.md", repo / "alias.md")
    result = scan_tree(repo, max_files=100, max_bytes=10**9, max_file_bytes=10**6, label="repo")
    found = {f.path: f.kind for f in result.files}
    assert found["leak.txt"] == "ignored" and found["leakdir"] == "ignored"
    assert not any(p.startswith("leakdir/") for p in found)
    assert found["alias.md"] == "doc"  # a link to a file inside the repository is fine
    assert "2 symbolic link(s)" in result.warnings[0]


def test_files_are_listed_sorted_with_sizes(tmp_path: Path) -> None:
    write(tmp_path, {"b.py": "12345", "a/z.py": "1", "a/b.md": "12"})
    result = scan_tree(tmp_path, max_files=100, max_bytes=10**9, max_file_bytes=10**6, label="x")
    assert [(f.path, f.size) for f in result.files] == [("a/b.md", 2), ("a/z.py", 1), ("b.py", 5)]
    assert result.bytes == 8


def test_folder_over_the_file_limit_is_too_large(tmp_path: Path) -> None:
    write(tmp_path, {f"f{i}.py": "x" for i in range(20)})
    with pytest.raises(TooLarge, match="more than 10 files"):
        kinds(tmp_path, max_files=10)


def test_folder_over_the_size_limit_is_too_large(tmp_path: Path) -> None:
    write(tmp_path, {"a.bin": b"\0" * 5000})
    with pytest.raises(TooLarge, match="larger than the limit"):
        kinds(tmp_path, max_bytes=1000)


def test_ignored_files_do_not_count_towards_the_limits(tmp_path: Path) -> None:
    write(tmp_path, {".gitignore": "out/\n", **{f"out/f{i}.py": "x" for i in range(50)}, "a.py": "x"})
    assert kinds(tmp_path, max_files=5)["a.py"] == "code"


def test_reader_masks_credentials_decodes_leniently_and_caps(tmp_path: Path) -> None:
    token = "hf_" + "Q" * 34
    write(
        tmp_path,
        {"s.py": f'TOKEN = "{token}"\n', "l.py": b"caf\xe9\n", "big.txt": "x" * 100, "b.dat": b"a\0b"},
    )
    reader = TextReader(tmp_path, max_bytes=10)
    assert reader.text("s.py", 1000) == 'TOKEN = "[REDACTED:huggingface]"\n'
    assert reader.masked == 1
    assert reader.text("l.py") == "caf\ufffd\n"
    assert reader.text("big.txt") == "x" * 10
    assert reader.text("b.dat") is None
    assert reader.read_paths == {"s.py", "l.py", "big.txt", "b.dat"}
