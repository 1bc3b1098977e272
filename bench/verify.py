"""Fresh-kernel check benchmark: what re-running the notebook in a new kernel adds to a generation.

One real Jupyter server (a subprocess, Cookbook enabled), the test fixture repository
(tests/fakes/repos.py, trusted), the offline provider. `--runs` pairs of generations, interleaved so
load drifts hit both alike: one with `verify: "off"` (the baseline, measured in the same run) and
one with `verify: "fresh_kernel"`. Each generation's time is its `started` event to its terminal
event (server clock); the check's is the `verified` event's `seconds`.

Reported: medians of both, and the ratios
  check_over_generation = median(check seconds) / median(generation seconds, verify off)
  with_over_without     = median(generation seconds, verify on) / median(generation seconds, off)

    .venv/bin/python bench/verify.py [--runs 5]

Prints one JSON line; exits 1 when a check did not pass or a generation did not finish.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._server import JupyterServer  # noqa: E402
from tests.fakes.kernels import NO_PACKAGE_INDEX  # noqa: E402
from tests.fakes.repos import make_local_repo  # noqa: E402

TERMINAL = {"finished", "failed", "cancelled"}


def generate(server: JupyterServer, repo_id: str, verify: str, deadline_s: float = 300) -> dict[str, Any]:
    body = {"repo_id": repo_id, "prompt": "greet someone", "provider": "offline", "verify": verify}
    gen_id = server.post("cookbook/generations", body)["id"]
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        after = events[-1]["seq"] if events else 0
        page = server.get(f"cookbook/generations/{gen_id}/events", params={"after": after, "timeout": 10})
        events += page["events"]
        if page["done"]:
            break
    else:
        raise RuntimeError(f"generation {gen_id} did not finish in {deadline_s:.0f} s")
    end = next((e for e in reversed(events) if e["type"] in TERMINAL), None)
    checks = [e["data"] for e in events if e["type"] == "verified"]
    return {
        "status": end["type"] if end else "none",
        "seconds": (end["ts"] - events[0]["ts"]) if end else None,
        "check": checks[-1] if checks else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cookbook-bench-verify-") as tmp:
        server = JupyterServer(Path(tmp), cookbook={"approval_mode": "never"}, env=dict(NO_PACKAGE_INDEX))
        with server:
            make_local_repo(server.root_dir)
            repo_id = server.post("cookbook/repos", {"source": "tiny-model", "trust": True})["id"]
            generate(server, repo_id, "fresh_kernel")  # warm-up: first imports, first kernel
            off: list[dict[str, Any]] = []
            on: list[dict[str, Any]] = []
            for _ in range(args.runs):
                off.append(generate(server, repo_id, "off"))
                on.append(generate(server, repo_id, "fresh_kernel"))
    ok = all(r["status"] == "finished" for r in off + on) and all(
        r["check"] and r["check"]["status"] == "passed" for r in on
    )
    gen_off = statistics.median(r["seconds"] for r in off)
    gen_on = statistics.median(r["seconds"] for r in on)
    check = statistics.median(r["check"]["seconds"] for r in on if r["check"])
    print(
        json.dumps(
            {
                "runs": args.runs,
                "generation_s_verify_off_median": round(gen_off, 3),
                "generation_s_verify_on_median": round(gen_on, 3),
                "check_s_median": round(check, 3),
                "check_over_generation": round(check / gen_off, 3),
                "with_over_without": round(gen_on / gen_off, 3),
                "checks": [r["check"]["status"] if r["check"] else None for r in on],
                "ok": ok,
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
