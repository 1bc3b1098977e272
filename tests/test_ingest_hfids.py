"""Hugging Face model ids: found in calls, assignments, flags and links; ranked by how often and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from cookbook_ext.ingest.hfids import HfIdCollector, collect_hf_ids
from cookbook_ext.ingest.scan import TextReader, scan_tree


def ids_in(text: str, path: str = "examples/demo.py") -> list[str]:
    collector = HfIdCollector()
    collector.scan(path, text)
    return [m["id"] for m in collector.ranked()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('AutoModel.from_pretrained("acme/tiny-llama")', ["acme/tiny-llama"]),
        ("tok = AutoTokenizer.from_pretrained('bert-base-uncased')", ["bert-base-uncased"]),
        ('x.from_pretrained(pretrained_model_name_or_path="org/m")', ["org/m"]),
        ('hf_hub_download(repo_id="org/weights", filename="a.bin")', ["org/weights"]),
        ('snapshot_download("org/snap")', ["org/snap"]),
        ('SentenceTransformer("all-MiniLM-L6-v2")', ["all-MiniLM-L6-v2"]),
        ('pipe = pipeline("text-generation", model="org/gen")', ["org/gen"]),
        ('model_id = "org/assigned"', ["org/assigned"]),
        ('MODEL_NAME = "Org/Upper-Case"', ["Org/Upper-Case"]),
        ('{"_name_or_path": "org/from-config"}', ["org/from-config"]),
        ("python train.py --model_name_or_path org/cli-model --epochs 3", ["org/cli-model"]),
        (
            "See [the model](https://huggingface.co/org/linked) and hf.co/org/short",
            ["org/linked", "org/short"],
        ),
        (
            "[![badge](https://img.shields.io/badge/HF-model-yellow)](https://huggingface.co/org/badged)",
            ["org/badged"],
        ),
        ("https://huggingface.co/org/m/resolve/main/model.safetensors", ["org/m"]),
    ],
)
def test_mentions_are_found_in_each_context(text: str, expected: list[str]) -> None:
    assert sorted(ids_in(text)) == sorted(expected)


@pytest.mark.parametrize(
    "text",
    [
        'from_pretrained("./checkpoints/run1")',
        'from_pretrained("/abs/path")',
        'from_pretrained("model")',  # a bare word: a local folder more likely than a legacy id
        'from_pretrained(f"{base}/x")',
        'model_path = "outputs/best"',
        "https://huggingface.co/docs/transformers/index",
        "https://huggingface.co/datasets/org/data",
        "https://huggingface.co/spaces/org/demo",
        "https://huggingface.co/org/logo.png",
        'pipeline("text-generation")',
        'checkpoint = "data/ckpt"',
    ],
)
def test_non_model_strings_are_not_ids(text: str) -> None:
    assert ids_in(text) == []


def test_readme_mentions_outrank_many_doc_page_mentions() -> None:
    collector = HfIdCollector()
    for i in range(200):
        collector.scan(f"docs/page_{i}.md", 'x.from_pretrained("org/docs-model") from_pretrained("org/main")')
    collector.scan("README.md", 'Model.from_pretrained("org/main")')
    ranked = collector.ranked()
    assert [m["id"] for m in ranked] == ["org/main", "org/docs-model"]
    main = ranked[0]
    assert main["count"] == 201
    assert main["where"][0] == "README.md"
    assert len(main["where"]) == 5


def test_overlapping_rules_count_a_mention_once() -> None:
    collector = HfIdCollector()
    collector.scan("examples/train.py", 'model_name_or_path = "org/m"')
    assert collector.ranked()[0]["count"] == 1


def test_ids_are_merged_case_insensitively_and_bytes_work_too() -> None:
    collector = HfIdCollector()
    collector.scan("a.py", 'from_pretrained("Org/Model")')
    collector.scan("b.py", b'from_pretrained("org/model")')
    [only] = collector.ranked()
    assert (only["id"], only["count"]) == ("Org/Model", 2)


def test_repository_scan_skips_tests_and_deep_library_code(tmp_path: Path) -> None:
    files = {
        "README.md": "[model](https://huggingface.co/org/readme-model)",
        "docs/usage.md": 'from_pretrained("org/doc-model")',
        "examples/run.py": 'model_id = "org/example-model"',
        "config.json": '{"_name_or_path": "org/config-model"}',
        "app.py": 'from_pretrained("org/app-model")',
        "tests/test_x.py": 'from_pretrained("hf-internal-testing/tiny-random")',
        "src/pkg/deep/impl.py": 'from_pretrained("org/deep-model")',
    }
    for rel, content in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(content)
    scan = scan_tree(tmp_path, max_files=100, max_bytes=10**9, max_file_bytes=10**6, label="t")
    reader = TextReader(tmp_path, 10**6)
    found = {m["id"] for m in collect_hf_ids(scan.files, reader, [], 10**6)}
    assert found == {
        "org/readme-model",
        "org/doc-model",
        "org/example-model",
        "org/config-model",
        "org/app-model",
    }
    assert "tests/test_x.py" not in reader.read_paths
