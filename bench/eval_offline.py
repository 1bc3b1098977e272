"""Offline eval benchmark: the local suite (bench/suites/local.yaml) through `jupyter cookbook eval`
with the offline provider, no key, no network and no package index.

Reports, from the harness's JSON: % of cases re-running cleanly in a fresh kernel (the `verified`
event, when the server emits one), median time to notebook, seconds spent in install cells and
their share of the time to notebook, and what the fresh-kernel check added as a ratio of the
generation's time. As a baseline measured in the same run, every notebook the harness wrote is
also re-run top to bottom here, in a fresh kernel of its own (nbclient), from the Jupyter root the
suite ran in (where a user opens the downloaded notebook), not from the repository: its pass rate
and its time as a ratio of the generation's.

    .venv/bin/python bench/eval_offline.py [--jobs 1] [--keep DIR]

Prints one JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "bench" / "suites" / "local.yaml"
sys.path.insert(0, str(ROOT / "bench" / "suites"))

from make_local_fixtures import make_fixtures  # noqa: E402


def run_suite(work: Path, jobs: int) -> tuple[dict[str, Any], float]:
    fixtures = work / "fixtures"
    make_fixtures(fixtures)
    env = {**os.environ, "JUPYTER_DATA_DIR": str(work / "data"), "HF_HUB_OFFLINE": "1", "PIP_NO_INDEX": "1"}
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        env.pop(name, None)
    jupyter = str(Path(sys.executable).with_name("jupyter"))
    out = work / "results.json"
    args = [jupyter, "cookbook", "eval", str(SUITE), "--root-dir", str(fixtures), "--provider", "offline"]
    args += ["--jobs", str(jobs), "--out", str(out), "--notebooks", str(work / "notebooks")]
    started = time.monotonic()
    proc = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.monotonic() - started
    if not out.exists():
        sys.exit(f"the eval wrote no results (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(out.read_text()), seconds


def rerun(notebook: Path, cwd: Path) -> tuple[bool, float, str | None]:
    """Run a notebook top to bottom in a fresh kernel; (passed, seconds, first error)."""
    import nbclient
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    started = time.monotonic()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        last = str(err).strip().splitlines()[-1]
        return False, time.monotonic() - started, re.sub(r"\x1b\[[0-9;]*m", "", last)[:200]
    return True, time.monotonic() - started, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--keep", help="work in this folder and keep it (default: a temp folder)")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="cookbook-eval-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        report, wall = run_suite(work, args.jobs)
        summary, cases = report["summary"], report["cases"]
        reruns = []
        for case in cases:
            if case["validated_code_cells"] and case.get("notebook"):
                passed, seconds, error = rerun(work / case["notebook"], work / "fixtures")
                reruns.append(
                    {
                        "case": case["name"],
                        "passed": passed,
                        "seconds": round(seconds, 3),
                        "generation_s": case["time_to_notebook_s"],
                        "error": error,
                    }
                )
        times = [c["time_to_notebook_s"] for c in cases if c["time_to_notebook_s"] is not None]
        checked = [c for c in cases if c["verify_seconds"] and c["time_to_notebook_s"]]
        passed = sum(r["passed"] for r in reruns)
        print(
            json.dumps(
                {
                    "suite": report["suite"]["name"],
                    "cases": summary["cases"],
                    "provider": report["run"]["provider"],
                    "rerun_clean_pct": summary["rerun_clean_pct"],
                    "rerun_checked": summary["rerun_checked"],
                    "verified": {c["name"]: c["verified"] for c in cases},
                    "median_time_to_notebook_s": summary["median_time_to_notebook_s"],
                    "install_seconds": summary["install_seconds"],
                    "install_share_of_time_to_notebook": round(summary["install_seconds"] / sum(times), 3)
                    if times
                    else None,
                    # The checks' time over the generation's time without them.
                    "verify_ratio_median": round(
                        statistics.median(
                            c["verify_seconds"] / max(1e-3, c["time_to_notebook_s"] - c["verify_seconds"])
                            for c in checked
                        ),
                        3,
                    )
                    if checked
                    else None,
                    "baseline_rerun": {
                        "notebooks": len(reruns),
                        "passed": passed,
                        "clean_pct_of_cases": round(100.0 * passed / len(cases), 1) if cases else 0.0,
                        "ratio_to_generation_median": round(
                            statistics.median(r["seconds"] / r["generation_s"] for r in reruns), 3
                        )
                        if reruns
                        else None,
                        "runs": reruns,
                    },
                    "statuses": {c["name"]: c["status"] for c in cases},
                    "eval_wall_s": round(wall, 3),
                },
                indent=2,
            )
        )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
