"""Small real repositories on disk for tests: a README with runnable code, an example, deps."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

README = """# tiny-model

A tiny model for tests. It is on the Hub as [acme/tiny](https://huggingface.co/acme/tiny).

## Quick start

```python
from tinylib import greet
print(greet("cookbook"))
```

## Usage

```python
values = [1, 2, 3]
print(sum(values) * 2)
```

```python
raise RuntimeError("this README example is broken on purpose")
```
"""

TINYLIB = """def greet(name):
    return f"hello {name}"
"""

EXAMPLE = '''"""Example: summarise numbers."""
import statistics

data = [3, 1, 4, 1, 5, 9, 2, 6]
print("mean", statistics.mean(data))
'''


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
}


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git (with an identity to commit as) and return its stdout, stripped."""
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_IDENTITY},
    )
    return done.stdout.strip()


def make_local_repo(root: Path, name: str = "tiny-model", *, git: bool = False) -> Path:
    repo = root / name
    (repo / "examples").mkdir(parents=True, exist_ok=True)
    (repo / "README.md").write_text(README)
    (repo / "tinylib.py").write_text(TINYLIB)
    (repo / "examples" / "summarise.py").write_text(EXAMPLE)
    # A requirement the test environment has: tests never install from a package index.
    (repo / "requirements.txt").write_text("jsonschema>=4\n")
    if git:
        env = {
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@e",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@e",
            "PATH": "/usr/bin:/bin",
        }
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
        subprocess.run(["git", "commit", "-qm", "init"], cwd=repo, check=True, env=env)
    return repo


def make_repo_script() -> Path:
    """The shared synthetic-repository generator: $COOKBOOK_MAKE_REPO, else shared/ beside the repo."""
    import os

    import pytest

    candidates = [os.environ.get("COOKBOOK_MAKE_REPO", "")]
    top = Path(__file__).resolve().parents[2]
    candidates.append(str(top.parent / "shared" / "bench" / "make_repo.py"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    pytest.skip("needs shared/bench/make_repo.py beside the repository (or COOKBOOK_MAKE_REPO)")
