"""Hugging Face model ids a repository mentions, ranked by how often and where they appear.

Mentions count in three contexts: loading calls (``from_pretrained("org/name")``,
``hf_hub_download(repo_id=...)``), assignments and CLI flags (``model_id = "org/name"``,
``--model_name_or_path org/name``) and links (``huggingface.co/org/name``, badges). A mention in
the root README or an example weighs more than one deep in the library; tests are not scanned.
Each regex runs only if a literal it needs occurs in the file, which keeps the scan near I/O speed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .examples import EXAMPLE_DIRS, TEST_DIRS
from .scan import FileEntry, TextReader

__all__ = ["HfIdCollector", "collect_hf_ids"]

MAX_IDS = 20
MAX_WHERE = 5
CONFIG_MAX_BYTES = 64 * 1024
# Bytes read per group of files, so one huge docs folder cannot crowd out the examples.
GROUP_BUDGETS = {"examples": 6 << 20, "docs": 6 << 20, "config": 1 << 20, "code": 3 << 20}
GROUP_MAX_FILES = 1500

_ID = r"[A-Za-z0-9][A-Za-z0-9._\-]{0,95}"
_Q = "[\"']"
_VALUE = rf"""["']?\s*[:=]\s*{_Q}({_ID}/{_ID}){_Q}"""
# (context, literal, regex): every regex starts with its literal, so the regex engine jumps from
# one occurrence of the literal to the next, and files without the literal are not searched.
_RULES: tuple[tuple[str, str, str], ...] = (
    (
        "call",
        "from_pretrained(",
        rf"from_pretrained\(\s*(?:pretrained_model_name_or_path\s*=\s*)?{_Q}({_ID}(?:/{_ID})?){_Q}",
    ),
    (
        "call",
        "SentenceTransformer(",
        rf"SentenceTransformer\(\s*(?:model_name_or_path\s*=\s*)?{_Q}({_ID}(?:/{_ID})?){_Q}",
    ),
    ("call", "CrossEncoder(", rf"CrossEncoder\(\s*(?:model_name\s*=\s*)?{_Q}({_ID}(?:/{_ID})?){_Q}"),
    ("call", "snapshot_download(", rf"snapshot_download\(\s*(?:repo_id\s*=\s*)?{_Q}({_ID}/{_ID}){_Q}"),
    ("call", "hf_hub_download(", rf"hf_hub_download\(\s*(?:repo_id\s*=\s*)?{_Q}({_ID}/{_ID}){_Q}"),
    ("call", "InferenceClient(", rf"InferenceClient\(\s*(?:model\s*=\s*)?{_Q}({_ID}/{_ID}){_Q}"),
    ("assign", "model", rf"model(?:_id|_name|_name_or_path|_path)?{_VALUE}"),
    ("assign", "MODEL", rf"MODEL(?:_ID|_NAME|_REPO|_PATH)?{_VALUE}"),
    ("assign", "repo_id", rf"repo_id{_VALUE}"),
    ("assign", "checkpoint", rf"checkpoint{_VALUE}"),
    ("assign", "_name_or_path", rf"_name_or_path{_VALUE}"),  # config.json, adapter_config.json
    ("flag", "--model", rf"--model(?:_name_or_path|_id|_name|-name|-id)?(?:=|\s+){_Q}?({_ID}/{_ID})"),
    ("flag", "--pretrained", rf"--pretrained_model_name_or_path(?:=|\s+){_Q}?({_ID}/{_ID})"),
    ("flag", "--base_model", rf"--base_model(?:_name_or_path)?(?:=|\s+){_Q}?({_ID}/{_ID})"),
    ("link", "huggingface.co/", rf"huggingface\.co/({_ID}/{_ID})"),
    ("link", "hf.co/", rf"hf\.co/({_ID}/{_ID})"),
)
_CONTEXT_WEIGHT = {"call": 1.5, "assign": 1.2, "flag": 1.2, "link": 1.0}
_STR_RULES = [(kind, lit, re.compile(rx)) for kind, lit, rx in _RULES]
_BYTES_RULES = [(kind, lit.encode(), re.compile(rx.encode())) for kind, lit, rx in _RULES]

# Where a mention sits: (category, weight). The root README says most about what a repo is for.
_CATEGORY_WEIGHT = {
    "readme": 5.0,
    "sub_readme": 3.0,
    "examples": 3.0,
    "config": 2.0,
    "top": 2.0,
    "docs": 1.5,
    "code": 1.0,
}

# First path segments of huggingface.co pages that are not models.
_RESERVED = frozenset(
    """datasets spaces docs blog papers models join login settings pricing api tasks learn collections
    organizations new enterprise posts chat search support changelog terms-of-service privacy course
    welcome inference-endpoints front static assets autotrain hub storage huggingchat oauth
    new-space""".split()
)
# First segments that mean a local folder rather than a Hub namespace.
_LOCAL = frozenset(
    """models model checkpoints checkpoint output outputs data path src tmp weights saved_models
    pretrained local runs logs cache results ckpt exp""".split()
)
_FILE_SUFFIX = re.compile(
    r"\.(?:png|jpe?g|gif|svg|webp|json|md|html?|py|txt|ya?ml|bin|safetensors|pt|pth|ckpt|zip|gz|tar|csv|onnx|gguf)$",
    re.IGNORECASE,
)


def _valid(model_id: str, kind: str) -> bool:
    if model_id.endswith((".", "-", "_")) or ".." in model_id or _FILE_SUFFIX.search(model_id):
        return False
    if "/" not in model_id:
        # Namespace-less ids (gpt2, bert-base-uncased) only from loading calls, and only if they
        # do not read like a plain word or a local folder name.
        return (
            kind == "call"
            and len(model_id) >= 3
            and bool(re.search(r"[\d\-]", model_id))
            and not model_id.replace("-", "").isdigit()
        )
    owner, name = model_id.split("/", 1)
    if kind == "link":
        return owner.lower() not in _RESERVED and name.lower() not in ("tree", "blob", "resolve")
    return owner.lower() not in _LOCAL


@dataclass
class _Mention:
    display: str
    count: int = 0
    points: dict[str, float] = field(default_factory=dict)  # by category
    counts: dict[str, int] = field(default_factory=dict)  # by category
    where: dict[str, float] = field(default_factory=dict)  # by path

    @property
    def score(self) -> float:
        # Where counts through the category weight, how often through a logarithm, so a thousand
        # doc pages do not drown the one README quick start.
        return sum(self.points[c] / n * math.log2(1 + n) for c, n in self.counts.items())


class HfIdCollector:
    """Accumulates mentions; `ranked()` returns the list for IngestResult.hf_ids."""

    def __init__(self) -> None:
        self._ids: dict[str, _Mention] = {}

    def scan(self, path: str, content: str | bytes) -> None:
        category = category_for(path)
        rules: list[tuple[str, Any, re.Pattern[Any]]]
        rules = _BYTES_RULES if isinstance(content, bytes) else _STR_RULES  # type: ignore[assignment]
        data: Any = content  # str with str rules, bytes with bytes rules
        counted: set[int] = set()  # rules overlap ("model_name_or_path" and "_name_or_path")
        for kind, literal, regex in rules:
            if literal not in data:
                continue
            for m in regex.finditer(data):
                if m.start(1) in counted:
                    continue
                counted.add(m.start(1))
                raw = m.group(1)
                model_id = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
                if _valid(model_id, kind):
                    self._add(model_id, path, category, _CONTEXT_WEIGHT[kind])

    def _add(self, model_id: str, path: str, category: str, context: float) -> None:
        mention = self._ids.setdefault(model_id.lower(), _Mention(model_id))
        points = _CATEGORY_WEIGHT[category] * context
        mention.count += 1
        mention.points[category] = mention.points.get(category, 0.0) + points
        mention.counts[category] = mention.counts.get(category, 0) + 1
        mention.where[path] = mention.where.get(path, 0.0) + points

    def ranked(self, limit: int = MAX_IDS) -> list[dict[str, Any]]:
        scored = [(m.score, m) for m in self._ids.values()]
        scored.sort(key=lambda t: (-t[0], -t[1].count, t[1].display.lower()))
        return [
            {
                "id": m.display,
                "count": m.count,
                "score": round(score, 2),
                "where": [p for p, _ in sorted(m.where.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_WHERE]],
            }
            for score, m in scored[:limit]
        ]


def category_for(path: str) -> str:
    parts = path.lower().split("/")
    name, dirs = parts[-1], parts[:-1]
    if name.startswith("readme"):
        return "sub_readme" if dirs else "readme"
    if any(p in EXAMPLE_DIRS for p in dirs) or name.endswith(".ipynb"):
        return "examples"
    if name.endswith((".json", ".yaml", ".yml", ".toml", ".cfg")):
        return "config"
    if not dirs:
        return "top"
    if name.endswith((".md", ".rst", ".mdx", ".txt")):
        return "docs"
    return "code"


def _scan_plan(files: Iterable[FileEntry], done: set[str]) -> list[tuple[str, FileEntry]]:
    """(group, file) to scan, most telling first; tests, deep library code and big configs are left out."""
    plan: list[tuple[int, int, str, str, FileEntry]] = []
    for f in files:
        if f.kind not in ("doc", "code", "text") or f.path in done or f.size == 0:
            continue
        parts = f.path.lower().split("/")
        if any(p in TEST_DIRS for p in parts[:-1]):
            continue
        name = parts[-1]
        if any(p in EXAMPLE_DIRS for p in parts[:-1]):
            group, order = "examples", 0
        elif f.kind == "doc":
            group, order = "docs", 1
        elif f.kind == "text":
            if f.size > CONFIG_MAX_BYTES or not name.endswith((".json", ".yaml", ".yml", ".toml", ".cfg")):
                continue
            group, order = "config", 2
        elif f.depth <= 1 or (f.depth == 2 and name.endswith(".py")):
            group, order = "code", 3
        else:
            continue
        plan.append((order, f.depth, f.path, group, f))
    plan.sort(key=lambda t: t[:3])
    return [(t[3], t[4]) for t in plan]


def collect_hf_ids(
    files: list[FileEntry],
    reader: TextReader,
    texts: Iterable[tuple[str, str]],
    max_file_bytes: int,
) -> list[dict[str, Any]]:
    """Rank the ids mentioned in `texts` (path, text already loaded: READMEs, notebooks, examples)
    and in the repository's docs, examples, configs and top-level code."""
    collector = HfIdCollector()
    done: set[str] = set()
    for path, text in texts:
        collector.scan(path, text)
        done.add(path)
    budgets = dict(GROUP_BUDGETS)
    counts = dict.fromkeys(GROUP_BUDGETS, 0)
    for group, entry in _scan_plan(files, done):
        if budgets[group] <= 0 or counts[group] >= GROUP_MAX_FILES:
            continue
        data = reader.raw(entry.path, min(entry.size, max_file_bytes))
        if data is None:
            continue
        budgets[group] -= len(data)
        counts[group] += 1
        collector.scan(entry.path, data)
    return collector.ranked()
