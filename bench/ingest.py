"""Benchmark repository ingestion against gitingest on the same synthetic repository.

    .venv/bin/python bench/ingest.py [--files 2800] [--mb 50] [--repeat 3] [--budget 24000] [--repo PATH]

Makes a repository with shared/bench/make_repo.py --git (shared/ beside this repository) unless
--repo is given, then ingests it as a local folder with Cookbook's `ingest()` and with
gitingest, each in a child process of its own (so imports and memory do not mix). Times are of
the ingest call itself (wall and CPU), the median of --repeat interleaved runs, page cache warm
for both. Prints both times,
the ratio (ours/gitingest), our peak RSS (the child's own getrusage) and whether the context pack is
within its budget, then one JSON line with the same figures. gitingest's child gets a dead proxy,
so its tiktoken download fails at once instead of reaching the internet.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MAKE_REPO = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "make_repo.py"
ROOT = Path(__file__).resolve().parent.parent

OURS = """
import json, resource, sys, time
from pathlib import Path
from cookbook_ext.ingest import IngestOptions, ingest
repo, cache, budget = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
options = IngestOptions(root_dir=repo.parent, cache_dir=cache, budget_tokens=budget)
start, cpu = time.perf_counter(), time.process_time()
result = ingest(repo.name, options=options)
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
ctx = result.context
print(json.dumps({
    "seconds": seconds, "cpu": cpu, "files": result.stats["files"], "read": result.stats["read"],
    "total_tokens": ctx["total_tokens"], "budget": ctx["budget"],
    "hf_ids": [h["id"] for h in result.hf_ids[:5]],
    "self_max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""

GITINGEST = """
import json, sys, time
from gitingest import ingest
start, cpu = time.perf_counter(), time.process_time()
summary, tree, content = ingest(sys.argv[1])
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"seconds": seconds, "cpu": cpu, "chars": len(content)}))
"""


def run_child(code: str, args: list[str], env: dict[str, str] | None = None) -> tuple[dict[str, Any], float]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=900,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=2800)
    ap.add_argument("--mb", type=float, default=50.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--budget", type=int, default=24000)
    ap.add_argument("--repo", type=Path, help="an existing repository folder instead of a synthetic one")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="cookbook-bench-") as tmp:
        if a.repo is None:
            repo = Path(tmp) / "root" / "repo"
            cmd = [sys.executable, str(MAKE_REPO), str(repo), "--files", str(a.files), "--mb", str(a.mb)]
            made = subprocess.run([*cmd, "--git"], capture_output=True, text=True, check=True)
            print("repository:", made.stdout.strip())
        else:
            repo = a.repo.resolve()
            print("repository:", repo)

        proxy = "http://127.0.0.1:9"  # nothing listens on port 9: requests fail at once
        dead_proxy = {name: proxy for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")}
        dead_proxy.update(NO_PROXY="", no_proxy="", TIKTOKEN_CACHE_DIR=str(Path(tmp) / "tiktoken"))
        ours: list[dict[str, Any]] = []
        theirs: list[dict[str, Any]] = []
        last: dict[str, Any] = {}
        for i in range(a.repeat):  # interleaved, so a busy machine slows both alike
            last, _ = run_child(OURS, [str(repo), str(Path(tmp) / f"cache{i}"), str(a.budget)])
            ours.append(last)
            theirs.append(run_child(GITINGEST, [str(repo)], env=dead_proxy)[0])

    def median(runs: list[dict[str, Any]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    # Each child reports its own getrusage peak (RUSAGE_CHILDREN here would mix in make_repo.py).
    peak_mb = max(r["self_max_rss_kb"] for r in ours) / 1024
    ours_s, theirs_s = median(ours, "seconds"), median(theirs, "seconds")
    ours_cpu, theirs_cpu = median(ours, "cpu"), median(theirs, "cpu")
    within = last["total_tokens"] <= last["budget"]
    runs = ", ".join(f"{r['seconds']:.3f}" for r in ours)
    print(f"ours (cookbook ingest):  {ours_s:.3f} s wall, {ours_cpu:.3f} s CPU   runs: {runs}")
    runs = ", ".join(f"{r['seconds']:.3f}" for r in theirs)
    print(f"gitingest:               {theirs_s:.3f} s wall, {theirs_cpu:.3f} s CPU   runs: {runs}")
    ratio, cpu_ratio = ours_s / theirs_s, ours_cpu / theirs_cpu
    print(f"ratio ours/gitingest:    {ratio:.3f} wall, {cpu_ratio:.3f} CPU   (target <= 0.1)")
    print(f"our peak RSS:            {peak_mb:.1f} MB   (target < 200 MB)")
    print(
        f"context pack:            {last['total_tokens']} / {last['budget']} tokens, within budget: {within}"
    )
    print(
        f"files listed / read:     {last['files']} / {last['read']}; top HF ids: {', '.join(last['hf_ids'])}"
    )
    print(
        json.dumps(
            {
                "ours_seconds": round(ours_s, 4),
                "gitingest_seconds": round(theirs_s, 4),
                "ratio": round(ratio, 4),
                "cpu_ratio": round(cpu_ratio, 4),
                "peak_rss_mb": round(peak_mb, 1),
                "context_tokens": last["total_tokens"],
                "budget": last["budget"],
                "within_budget": within,
            }
        )
    )


if __name__ == "__main__":
    main()
