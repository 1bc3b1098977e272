"""Load benchmark: does the server's event loop stay free while generations run?

One real Jupyter server (a subprocess, Cookbook enabled) and one fake Anthropic Messages API on
127.0.0.1 that plays the model. A small local repository is ingested, then:

(1) idle: `GET cookbook/status`, sequentially, `--idle-requests` times (after a warm-up);
(2) load: `--generations` generations are POSTed at once (provider anthropic, no kernel_id, so the
    server starts a kernel per generation); each is a scripted conversation of ~17 model turns
    (list files, read the README, search, then create + execute `--cells` code cells, a markdown
    cell, finish). While they run, `cookbook/status` is requested sequentially and continuously,
    and every generation's event stream is followed with the long poll
    `GET cookbook/generations/{id}/events?after=N&timeout=10`.

The status prober runs in a process of its own, so neither the fake model nor the event followers
(threads of this process) slow the measuring client down. Reported: p50/p99 of status latency idle
and under load and their ratios (load / idle), the p99 target (< 100 ms under load), events
emitted (each generation's `last_seq`) against events delivered through the long poll (must be
equal, with no gap and no duplicate), the generations' end states and the wall time.

    .venv/bin/python bench/load.py [--generations 10] [--cells 6] [--idle-requests 200]
                                   [--model-delay 0] [--deadline 120] [--keep]

Diagnostics: `--warm-up` runs one generation before measuring (separates first-use costs such as
imports from steady state); `--control-probe` also times Jupyter's own `api/status`, which runs on
the event loop alone, so a slow `cookbook/status` next to a fast `api/status` means a wait inside
Cookbook (its thread pool) rather than a blocked loop; `--profile FILE` records the server with
py-spy (collapsed stacks per thread). `load_slowest` lists [seconds after the first POST, ms].

Prints one JSON line; exits 1 when events were lost, a generation did not finish, or p99 under
load is over the target. Every loop has a count or a time limit; the server (and its kernels) is
always stopped.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

P99_TARGET_MS = 100.0
TERMINAL = {"finished", "failed", "cancelled", "interrupted"}
FAKE_KEY = "sk-ant-bench-0123456789abcdef0123456789abcdef"


# -- the fake model: one callable serves every conversation ------------------------------------------


def _last_cell_id(body: dict[str, Any]) -> str | None:
    """The cell id reported by the tool_result in the request's last message (create_cell's)."""
    messages = body.get("messages") or []
    if not messages or not isinstance(messages[-1].get("content"), list):
        return None
    for block in messages[-1]["content"]:
        if block.get("type") != "tool_result":
            continue
        content = block.get("content")
        if isinstance(content, list):
            content = "".join(b.get("text", "") for b in content if isinstance(b, dict))
        try:
            data = json.loads(content or "")
        except (TypeError, ValueError):
            continue
        if isinstance(data, dict) and data.get("cell_id"):
            return str(data["cell_id"])
    return None


def conversation_plan(cells: int) -> list[tuple[str, Any]]:
    """The scripted turns of one generation: (tool name, input or "LAST_CELL")."""
    plan: list[tuple[str, Any]] = [
        ("list_files_in_repo", {}),
        ("read_file_from_repo", {"path": "README.md"}),
        ("search_repo", {"query": "greet"}),
    ]
    for i in range(1, cells + 1):
        code = f"value_{i} = sum(range({i} * 1000))\nprint('cell {i}:', value_{i})"
        plan.append(("create_cell", {"code": code, "type": "code"}))
        plan.append(("execute_cell", "LAST_CELL"))
    plan.append(("create_cell", {"code": "## What this notebook does\n\nSums ranges.", "type": "markdown"}))
    plan.append(("finish", {"summary": f"{cells} cells that sum ranges."}))
    return plan


def make_model(cells: int, delay: float) -> Any:
    """A script entry `(RecordedRequest) -> Reply`: the reply depends on the turn the request is at.

    The turn is the number of assistant messages in the request, so one callable serves any number
    of interleaved conversations.
    """
    from tests.fakes.script import text_reply, tool_use

    plan = conversation_plan(cells)

    def reply(request: Any) -> Any:
        body = request.body or {}
        turn = sum(1 for m in body.get("messages") or [] if m.get("role") == "assistant")
        if turn >= len(plan):
            return text_reply("Done.", delay=delay)
        name, args = plan[turn]
        if args == "LAST_CELL":
            args = {"cell_id": _last_cell_id(body) or f"c{(turn - 2) // 2}"}
        return tool_use(name, args, text=f"Step {turn + 1}: {name}.", delay=delay)

    return reply


# -- the status prober (a process of its own) -----------------------------------------------------


def _probe(
    base_url: str,
    token: str,
    path: str,
    count: int,
    max_seconds: float,
    ready: Any,
    stop: Any,
    out: Any,
) -> None:
    """GET `path` sequentially: `count` times, or until `stop` is set (at most
    `max_seconds`). Puts [(start monotonic, seconds, status code)] on `out`."""
    samples: list[tuple[float, float, int]] = []
    errors: list[str] = []
    deadline = time.monotonic() + max_seconds
    with httpx.Client(base_url=base_url, headers={"Authorization": f"token {token}"}, timeout=10.0) as client:
        client.get(path)  # connect outside the measurement
        ready.set()
        while time.monotonic() < deadline and (count <= 0 or len(samples) < count):
            if count <= 0 and stop.is_set():
                break
            started = time.monotonic()
            try:
                response = client.get(path)
                code = response.status_code
                if code != 200 and len(errors) < 5:
                    errors.append(f"{code}: {response.text[:200]}")
            except httpx.HTTPError as err:
                code = 0
                if len(errors) < 5:
                    errors.append(f"{type(err).__name__}: {err}")
            samples.append((started, time.monotonic() - started, code))
    out.put((samples, errors))


class Prober:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        path: str = "cookbook/status",
        count: int = 0,
        max_seconds: float = 150.0,
    ) -> None:
        ctx = mp.get_context("spawn")
        self.ready = ctx.Event()
        self.stop_event = ctx.Event()
        self.queue = ctx.Queue()
        self.proc = ctx.Process(
            target=_probe,
            args=(base_url, token, path, count, max_seconds, self.ready, self.stop_event, self.queue),
            daemon=True,
        )
        self.max_seconds = max_seconds
        self.errors: list[str] = []

    def start(self) -> Prober:
        self.proc.start()
        if not self.ready.wait(60):
            self.proc.kill()
            raise RuntimeError("the status prober did not start")
        return self

    def kill(self) -> None:
        if self.proc.pid is not None and self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)

    def result(self) -> list[tuple[float, float, int]]:
        self.stop_event.set()
        try:
            samples, self.errors = self.queue.get(timeout=self.max_seconds + 30)
        finally:
            self.proc.join(10)
            if self.proc.is_alive():
                self.proc.kill()
        return samples


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def latency_summary(samples: list[tuple[float, float, int]]) -> dict[str, Any]:
    ms = [s[1] * 1000 for s in samples]
    return {
        "n": len(ms),
        "errors": sum(1 for s in samples if s[2] != 200),
        "p50_ms": round(percentile(ms, 50), 2),
        "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2) if ms else None,
    }


# -- event followers -----------------------------------------------------------------------------


def follow(base_url: str, token: str, gen_id: str, deadline: float, max_polls: int = 5000) -> dict[str, Any]:
    """Read one generation's events with the long poll until `done` (or the deadline)."""
    received = 0
    after = 0
    gaps: list[tuple[int, int]] = []
    polls = 0
    done = False
    errors = 0
    with httpx.Client(base_url=base_url, headers={"Authorization": f"token {token}"}, timeout=30.0) as c:
        while not done and polls < max_polls and time.monotonic() < deadline:
            polls += 1
            try:
                r = c.get(f"cookbook/generations/{gen_id}/events", params={"after": after, "timeout": 10})
            except httpx.HTTPError:
                errors += 1
                time.sleep(0.1)
                continue
            if r.status_code != 200:
                errors += 1
                time.sleep(0.1)
                continue
            reply = r.json()
            for event in reply["events"]:
                if event["seq"] != after + 1:
                    gaps.append((after, event["seq"]))
                after = max(after, event["seq"])
                received += 1
            done = bool(reply.get("done"))
    return {
        "id": gen_id,
        "received": received,
        "last_seen": after,
        "done": done,
        "polls": polls,
        "gaps": gaps,
        "errors": errors,
    }


def _busy(before: Any, after: Any) -> float:
    idle = (after.idle + getattr(after, "iowait", 0)) - (before.idle + getattr(before, "iowait", 0))
    total = sum(after) - sum(before)
    return round(1 - idle / total, 3) if total > 0 else float("nan")


def replay_count(server: Any, gen_id: str, max_pages: int = 100) -> int:
    """Events a client reading from the start gets (paged: the server caps one reply)."""
    after, count = 0, 0
    for _ in range(max_pages):
        reply = server.get(f"cookbook/generations/{gen_id}/events", params={"after": after, "timeout": 0})
        count += len(reply["events"])
        if reply["events"]:
            after = reply["events"][-1]["seq"]
        if reply.get("done") or not reply["events"]:
            break
    return count


# -- optional profile of the server during the load ---------------------------------------------------


def start_profiler(path: str, pid: int) -> Any:
    """py-spy (`.venv/bin/pip install py-spy`) sampling every thread of the server, collapsed stacks."""
    import subprocess

    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    cmd = [
        exe,
        "record",
        "--pid",
        str(pid),
        "--rate",
        "250",
        "--threads",
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        path,
        "--duration",
        "170",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)  # let it attach
    return proc


def stop_profiler(proc: Any) -> None:
    import signal
    import subprocess

    proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


# -- the run -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    import psutil

    from bench._server import JupyterServer
    from tests.fakes.anthropic_server import FakeAnthropic
    from tests.fakes.repos import make_local_repo

    wall_started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="cookbook-load-"))
    plan_turns = len(conversation_plan(args.cells))
    model = make_model(args.cells, args.model_delay)
    runs = args.generations + (1 if args.warm_up else 0)
    fake = FakeAnthropic([model] * (runs * (plan_turns + 5)), strict=not args.lenient)
    fake.start()
    helpers: list[Any] = []  # prober processes and the profiler, stopped whatever happens
    result: dict[str, Any] = {
        "bench": "load",
        "generations": args.generations,
        "cells_per_generation": args.cells,
        "turns_per_generation": plan_turns,
        "model_delay_s": args.model_delay,
        "warm_up": args.warm_up,
        "cpu_count": os.cpu_count(),
        # The machine's load before the run: other work on the box shows up in every figure.
        "loadavg_1m_before": round(os.getloadavg()[0], 2),
    }
    try:
        server = JupyterServer(
            tmp,
            cookbook={
                "anthropic_base_url": fake.base_url,
                "cell_timeout": 30.0,
                "max_seconds": float(args.deadline),
            },
            env={"ANTHROPIC_API_KEY": FAKE_KEY},
        )
        make_local_repo(server.root_dir)
        with server:
            status = server.get("cookbook/status")
            anthropic = next(p for p in status["providers"] if p["name"] == "anthropic")
            if not anthropic["available"]:
                raise RuntimeError(f"the anthropic provider is not available: {status}")
            repo = server.post("cookbook/repos", {"source": "tiny-model"}, timeout=60.0)
            server_proc = psutil.Process(server.proc.pid)  # type: ignore[union-attr]
            body = {
                "repo_id": repo["id"],
                "prompt": "Show how to sum ranges of numbers.",
                "provider": "anthropic",
            }
            if args.warm_up:
                # One generation first: first-use costs (imports, schema compiles) are paid here.
                warm_id = server.post("cookbook/generations", body, timeout=60.0)["id"]
                warm = follow(server.base_url, server.token, warm_id, time.monotonic() + 60)
                if not warm["done"]:
                    raise RuntimeError(f"the warm-up generation did not end: {warm}")

            # (1) idle
            for _ in range(20):
                server.get("cookbook/status")
            idle_prober = Prober(server.base_url, server.token, count=args.idle_requests, max_seconds=60)
            helpers.append(idle_prober)
            idle_samples = idle_prober.start().result()

            # (2) load
            prober = Prober(server.base_url, server.token, count=0, max_seconds=args.deadline + 30)
            helpers.append(prober)
            prober.start()
            # Optional control: Jupyter's own api/status answers on the event loop alone (no thread
            # pool, no database), so it tells event-loop stalls from waits inside Cookbook's handler.
            control = None
            if args.control_probe:
                control = Prober(
                    server.base_url, server.token, path="api/status", max_seconds=args.deadline + 30
                )
                helpers.append(control)
                control.start()
            profiler = start_profiler(args.profile, server_proc.pid) if args.profile else None
            if profiler is not None:
                helpers.append(profiler)
            cpu_before = server_proc.cpu_times()
            bench_before = psutil.Process().cpu_times()
            machine_before = psutil.cpu_times()
            load_started = time.monotonic()
            barrier = threading.Barrier(args.generations)

            def post(_: int) -> str:
                barrier.wait(10)
                return str(server.post("cookbook/generations", body, timeout=30.0)["id"])

            deadline = load_started + args.deadline
            with ThreadPoolExecutor(max_workers=args.generations) as pool:
                gen_ids = list(pool.map(post, range(args.generations)))
            posted = time.monotonic()
            with ThreadPoolExecutor(max_workers=args.generations) as pool:
                follows = list(
                    pool.map(lambda g: follow(server.base_url, server.token, g, deadline), gen_ids)
                )
            records = {g: server.get(f"cookbook/generations/{g}") for g in gen_ids}
            while time.monotonic() < deadline and any(r["status"] not in TERMINAL for r in records.values()):
                time.sleep(0.2)
                records = {g: server.get(f"cookbook/generations/{g}") for g in gen_ids}
            load_ended = time.monotonic()
            cpu_after = server_proc.cpu_times()
            bench_after = psutil.Process().cpu_times()
            machine_after = psutil.cpu_times()
            if profiler is not None:
                stop_profiler(profiler)
            load_all = prober.result()
            if prober.errors:
                result["status_errors"] = prober.errors
            load_samples = [s for s in load_all if load_started <= s[0] <= load_ended]
            control_samples = (
                [s for s in control.result() if load_started <= s[0] <= load_ended] if control else None
            )

            emitted = {g: int(records[g]["last_seq"]) for g in gen_ids}
            # A final re-read from 0: what a client that reconnects would get.
            replay = {g: replay_count(server, g) for g in gen_ids}
            # The server records the end state, then shuts the generation's kernel down.
            kernels_deadline = time.monotonic() + 20
            kernels_left = server.running_kernels()
            while kernels_left and time.monotonic() < kernels_deadline:
                time.sleep(0.2)
                kernels_left = server.running_kernels()

        idle = latency_summary(idle_samples)
        load = latency_summary(load_samples)
        statuses: dict[str, int] = {}
        for r in records.values():
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        delivered = sum(f["received"] for f in follows)
        total_emitted = sum(emitted.values())
        cells_validated = [len(records[g].get("cells") or []) for g in gen_ids]
        turns = [int((records[g].get("usage") or {}).get("turns") or 0) for g in gen_ids]
        result.update(
            {
                "idle": idle,
                "load": load,
                "ratio_p50": round(load["p50_ms"] / idle["p50_ms"], 2),
                "ratio_p99": round(load["p99_ms"] / idle["p99_ms"], 2),
                "p99_target_ms": P99_TARGET_MS,
                "p99_ok": load["p99_ms"] < P99_TARGET_MS and load["errors"] == 0,
                "events_emitted": total_emitted,
                "events_delivered": delivered,
                "events_replayed": sum(replay.values()),
                "events_equal": delivered == total_emitted
                and all(f["received"] == emitted[f["id"]] and f["done"] and not f["gaps"] for f in follows),
                "event_gaps": [f["gaps"] for f in follows if f["gaps"]],
                "follow_errors": sum(f["errors"] for f in follows),
                "long_polls": sum(f["polls"] for f in follows),
                "generation_status": statuses,
                "generations_finished": statuses.get("finished", 0),
                "cells_validated": cells_validated,
                "model_turns": turns,
                "model_requests": len(fake.requests),
                "fake_rejected": len(fake.errors),
                "kernels_left": len(kernels_left),
                "post_s": round(posted - load_started, 3),
                "load_s": round(load_ended - load_started, 2),
                # When the slowest status requests started (seconds after the first POST).
                "load_slowest": [
                    [round(s[0] - load_started, 2), round(s[1] * 1000, 1)]
                    for s in sorted(load_samples, key=lambda s: -s[1])[:8]
                ],
                "server_cpu_s_during_load": round(
                    (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system), 2
                ),
                # This process (fake model + event followers), not the prober.
                "bench_cpu_s_during_load": round(
                    (bench_after.user + bench_after.system) - (bench_before.user + bench_before.system), 2
                ),
                # Share of all CPUs busy during the load, whoever used them (kernels, other work).
                "machine_cpu_busy_during_load": _busy(machine_before, machine_after),
                "wall_s": round(time.monotonic() - wall_started, 2),
            }
        )
        if control_samples is not None:
            result["control_api_status_load"] = latency_summary(control_samples)
            if control is not None and control.errors:
                result["control_errors"] = control.errors
            result["control_slowest"] = [
                [round(s[0] - load_started, 2), round(s[1] * 1000, 1)]
                for s in sorted(control_samples, key=lambda s: -s[1])[:8]
            ]
        if fake.errors:
            result["fake_errors"] = fake.errors[:3]
        return result
    finally:
        for helper in helpers:
            helper.kill()
        fake.stop()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generations", type=int, default=10)
    parser.add_argument("--cells", type=int, default=6, help="code cells per generation")
    parser.add_argument("--idle-requests", type=int, default=200)
    parser.add_argument("--model-delay", type=float, default=0.0, help="seconds the fake model takes a turn")
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds the load phase may take")
    parser.add_argument("--lenient", action="store_true", help="the fake model accepts invalid requests")
    parser.add_argument(
        "--warm-up",
        action="store_true",
        help="run one generation before measuring, to separate first-use costs from steady state",
    )
    parser.add_argument(
        "--control-probe",
        action="store_true",
        help="also time Jupyter's own api/status under load (event loop only), to locate stalls",
    )
    parser.add_argument("--profile", metavar="FILE", help="py-spy collapsed stacks of the server under load")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (server log)")
    args = parser.parse_args(argv)
    result = run(args)
    print(json.dumps(result))
    ok = (
        result["events_equal"]
        and result["generations_finished"] == args.generations
        and result["p99_ok"]
        and result["kernels_left"] == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
