"""Portable-notebook benchmark: what the setup cell of a GitHub-sourced notebook costs on a machine
that has no copy of the repository, and how much of a repository's declared packages the install
cell still asks for.

A synthetic repository with history (`--commits` commits rewriting `--files` files of `--kb` KB),
served over file:// by git's own upload-pack (the protocol a remote uses). In the same run, one
after the other, `--runs` times each:

  baseline:   `git clone URL` (the whole history), as a user following a README would
  setup cell: portable.setup_code(...) run in a fresh interpreter: a depth-1 fetch of the pinned
              commit beside the notebook, then the same cell again (the folder is there: no fetch)

Reported: medians, and the ratios
  setup_over_clone       = median(setup cell, first run) / median(full clone)
  setup_bytes_over_clone = bytes of the setup cell's clone / bytes of the full clone (.git included)
  rerun_over_first       = median(setup cell, second run) / median(setup cell, first run)
  requirements_kept      = packages the install cell lists / packages declared, for a declared set
                           shaped like sentence-transformers' (runtime, extras, dev groups)

    .venv/bin/python bench/portable_setup.py [--runs 5] [--commits 60] [--files 10] [--kb 20]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cookbook_ext.agent.providers.offline import plan_candidates  # noqa: E402
from cookbook_ext.agent.types import GenerationRequest  # noqa: E402
from cookbook_ext.portable import RepoLocation, setup_code  # noqa: E402

_GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=_GIT_ENV, capture_output=True, text=True, check=True)
    return done.stdout


def make_upstream(folder: Path, commits: int, files: int, kb: int) -> tuple[str, str]:
    """A bare repository with history; (file:// URL, the commit a notebook pins: HEAD~1)."""
    work = folder / "work"
    work.mkdir(parents=True)
    git("init", "-q", "-b", "main", str(work))
    (work / "tinylib.py").write_text("def greet(name):\n    return f'hello {name}'\n")
    for number in range(commits):
        for index in range(files):
            # New content each commit: history that a full clone has to carry.
            (work / f"data_{index}.txt").write_bytes(os.urandom(kb * 512).hex().encode())
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", f"commit {number}", cwd=work)
    pinned = git("rev-parse", "HEAD~1", cwd=work).strip()
    git("clone", "-q", "--bare", str(work), str(folder / "served.git"))
    shutil.rmtree(work)
    return f"file://{folder / 'served.git'}", pinned


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def requirements_kept() -> tuple[int, int]:
    """(listed in the install cell, declared) for a declared set like sentence-transformers'."""
    declared = [
        ("transformers", ">=4.41", True, None),
        ("tqdm", "", True, None),
        ("torch", ">=1.11", True, None),
        ("scikit-learn", "", True, None),
        ("scipy", "", True, None),
        ("huggingface-hub", ">=0.20", True, None),
        ("Pillow", "", True, None),
        ("typing_extensions", ">=4.5", True, None),
        ("datasets", "", False, "train"),
        ("accelerate", ">=0.20.3", False, "train"),
        ("optimum", "", False, "onnx"),
        ("optimum-intel", "", False, "openvino"),
        ("peft", "", False, "dev"),
        ("pre-commit", "", False, "dev"),
        ("pytest", "", False, "dev"),
        ("pytest-cov", "", False, "dev"),
    ]
    readme = (
        "from sentence_transformers import SentenceTransformer, util\n"
        "model = SentenceTransformer('sentence-transformers/all-MiniLM-L6-v2')\n"
    )
    repo = {
        "name": "sentence-transformers",
        "files": [{"path": "sentence_transformers/__init__.py"}],
        "readmes": [
            {"path": "README.md", "code_blocks": [{"lang": "python", "code": readme, "heading": "Usage"}]}
        ],
        "dependencies": {
            "packages": [
                {"name": n, "spec": s, "source": "pyproject.toml", "runtime": r, "group": g}
                for n, s, r, g in declared
            ]
        },
    }
    plan = plan_candidates(GenerationRequest(prompt="semantic search"), repo, None)
    install = next((c.code or "" for c in plan if c.title == "Install the requirements"), "")
    listed = install.split("requirements = {", 1)[1].split("}", 1)[0].count("':")
    return listed, len(declared)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--commits", type=int, default=60)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--kb", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cookbook-bench-portable-") as tmp:
        scratch = Path(tmp)
        url, pinned = make_upstream(scratch / "upstream", args.commits, args.files, args.kb)
        location = RepoLocation(path="demo-x", clone_url=url, commit=pinned, clone_dir="demo-x")
        # The cell as a fresh kernel runs it (no NOTEBOOK_DIR from an earlier run).
        cell = setup_code(location).replace("globals().get", "{}.get")
        clone_s, first_s, again_s = [], [], []
        clone_bytes = setup_bytes = 0
        for run in range(args.runs):
            base = scratch / f"clone-{run}"
            notebook = scratch / f"notebook-{run}"
            notebook.mkdir()
            clone_s.append(timed(lambda base=base: git("clone", "-q", url, str(base))))

            def setup(notebook: Path = notebook) -> None:
                subprocess.run([sys.executable, "-c", cell], cwd=notebook, check=True, capture_output=True)

            first_s.append(timed(setup))
            again_s.append(timed(setup))
            clone_bytes, setup_bytes = tree_bytes(base), tree_bytes(notebook / "demo-x")
            shutil.rmtree(base)
            shutil.rmtree(notebook)
        listed, declared = requirements_kept()

    clone, first, again = (statistics.median(v) for v in (clone_s, first_s, again_s))
    print(
        json.dumps(
            {
                "runs": args.runs,
                "repository": {"commits": args.commits, "files": args.files, "kb_per_file": args.kb},
                "full_clone_s": round(clone, 3),
                "setup_first_s": round(first, 3),
                "setup_again_s": round(again, 3),
                "setup_over_clone": round(first / clone, 3),
                "setup_bytes_over_clone": round(setup_bytes / clone_bytes, 4),
                "rerun_over_first": round(again / first, 3),
                "requirements_kept": f"{listed}/{declared}",
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
