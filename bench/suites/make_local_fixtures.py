"""Writes the local eval suite's repositories (bench/suites/local.yaml) under a folder: small git
repositories, each a situation the offline provider meets in real ones.

    python bench/suites/make_local_fixtures.py ROOT
    jupyter cookbook eval bench/suites/local.yaml --root-dir ROOT

Every requirement is either installed with Cookbook (jsonschema, nbformat) or deliberately
missing, so the suite never needs a package index.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

WORDCOUNT_README = """# wordcount

Counts words, the simple way.

## Quick start

```python
from wordcount import count_words, top_words
text = "the quick brown fox jumps over the lazy dog and the fox sleeps"
print(count_words(text))
print(top_words(text, 3))
```

## Validate a config with jsonschema

```python
import jsonschema
schema = {"type": "object", "properties": {"top": {"type": "integer", "minimum": 1}}}
jsonschema.validate({"top": 3}, schema)
print("config ok")
```
"""

WORDCOUNT = '''"""Word counting."""
from collections import Counter


def count_words(text):
    return len(text.split())


def top_words(text, n):
    return Counter(text.lower().split()).most_common(n)
'''

SEARCH_README = """# tiny-search

Bag-of-words semantic search over a handful of sentences. See `examples/search.py`.
"""

SEARCH_EXAMPLE = '''"""Find which of five sentences best matches a question."""
import math
import re
from collections import Counter
from pathlib import Path

sentences = Path("data/sentences.txt").read_text().splitlines()
question = "Where do cats like to sleep?"


def vector(text):
    return Counter(re.findall(r"[a-z]+", text.lower()))


def cosine(a, b):
    dot = sum(a[w] * b[w] for w in a)
    return dot / (math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values())) or 1)


scores = sorted(((cosine(vector(question), vector(s)), s) for s in sentences), reverse=True)
for score, sentence in scores:
    print(f"{score:.2f}  {sentence}")
print("best match:", scores[0][1])
'''

SENTENCES = """Cats like to sleep in warm sunny places.
The stock market fell sharply on Monday.
A good espresso needs finely ground coffee.
Dogs enjoy long walks in the park.
The train to Berlin leaves at nine.
"""

MISSING_README = """# needs-missing

```bash
pip install cookbook-eval-missing-pkg
```

```python
import cookbook_eval_missing_pkg
print(cookbook_eval_missing_pkg.run())
```
"""

PROSE_README = """# prose-only

This project explains ideas in words and has no code to run: no code blocks, no examples.
"""

STEPS_README = """# two-steps

## Load the records

```python
records = [
    {"name": "ada", "score": 3},
    {"name": "grace", "score": 5},
    {"name": "alan", "score": 4},
]
print(len(records), "records")
```

## Rank them

```python
ranked = sorted(records, key=lambda r: r["score"], reverse=True)
print("best:", ranked[0]["name"])
```
"""

FIXTURES: dict[str, dict[str, str]] = {
    # A README whose examples run (one imports the repository's own module, one a requirement).
    "readme-runs": {
        "README.md": WORDCOUNT_README,
        "wordcount.py": WORDCOUNT,
        "requirements.txt": "jsonschema>=4\n",
    },
    # No code in the README; an example script reading a file relative to the repository.
    "example-script": {
        "README.md": SEARCH_README,
        "examples/search.py": SEARCH_EXAMPLE,
        "data/sentences.txt": SENTENCES,
    },
    # The examples need a package that is not installed and cannot be.
    "needs-missing": {
        "README.md": MISSING_README,
        "requirements.txt": "cookbook-eval-missing-pkg>=1\n",
    },
    # Nothing runnable at all.
    "prose-only": {"README.md": PROSE_README, "requirements.txt": "nbformat\n"},
    # The second block uses what the first one defined.
    "two-steps": {"README.md": STEPS_README},
}


def make_fixtures(root: Path, names: list[str] | None = None) -> list[Path]:
    """Write the fixture repositories under `root` (each a git repository with one commit)."""
    made = []
    for name in names or list(FIXTURES):
        repo = root / name
        for rel, text in FIXTURES[name].items():
            path = repo / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        _commit(repo)
        made.append(repo)
    return made


def _commit(repo: Path) -> None:
    env = {
        "GIT_AUTHOR_NAME": "cookbook",
        "GIT_AUTHOR_EMAIL": "cookbook@example.invalid",
        "GIT_COMMITTER_NAME": "cookbook",
        "GIT_COMMITTER_EMAIL": "cookbook@example.invalid",
        "PATH": "/usr/bin:/bin",
    }
    if (repo / ".git").exists():
        return
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "fixture"], cwd=repo, check=True, env=env)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python bench/suites/make_local_fixtures.py ROOT")
    for path in make_fixtures(Path(sys.argv[1])):
        print(path)
