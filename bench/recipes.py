"""Recipes benchmark: what typed, hot-reloaded, sandboxed recipes cost, as ratios to a baseline
measured in the same run.

(1) The hot-reload check on every access (`RecipeRegistry.snapshot()` over an unchanged user
    folder of N files plus the built-ins) vs the floor of any such check: one `stat` of each
    file. Target <= 5 (it also lists the folders, to see files come and go).
(2) One file changed among N: the snapshot re-reads that file only; vs a cold load of all N.
    Target <= 0.2.
(3) Rendering a built-in recipe's instructions in the guarded sandbox (size checks, the deadline's
    trace function) vs plain Jinja2 rendering of the same template. Absolute time too: it runs
    once per generation start, so milliseconds are fine; target < 5 ms.

    .venv/bin/python bench/recipes.py [--files 50] [--n 200]

Prints one JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import jinja2  # noqa: E402

from cookbook_ext.recipes import RecipeRegistry, get_recipe  # noqa: E402
from cookbook_ext.recipes.render import render_instructions  # noqa: E402
from tests.test_recipe_files import recipe_yaml  # noqa: E402

CHECK_TARGET = 5.0
RELOAD_TARGET = 0.2
RENDER_TARGET_MS = 5.0


def median_s(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        folder = data / "recipes"
        folder.mkdir()
        paths = []
        for i in range(args.files):
            path = folder / f"r{i:03d}.yaml"
            path.write_text(recipe_yaml(f"r{i:03d}"))
            paths.append(path)
        every_file = [*paths, *sorted((ROOT / "cookbook_ext" / "recipes" / "builtin").glob("*.yaml"))]

        registry = RecipeRegistry(data_dir=data)
        cold_start = time.perf_counter()
        registry.snapshot()
        cold_s = time.perf_counter() - cold_start

        stat_s = median_s(lambda: [os.stat(p) for p in every_file], args.n)
        check_s = median_s(registry.snapshot, args.n)

        def change_one() -> None:
            path = paths[0]
            st = path.stat()
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
            registry.snapshot()

        reload_s = median_s(change_one, max(10, args.n // 10))
        fresh_s = median_s(lambda: RecipeRegistry(data_dir=data).snapshot(), max(10, args.n // 10))

    recipe = get_recipe("ab_arena")
    values = {name: spec.default for name, spec in recipe.spec.inputs.items()} | {
        "prompt": "compare",
        "compare_with": "acme/other",
    }
    plain = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(recipe.spec.instructions)
    plain_s = median_s(lambda: plain.render(**values), args.n)
    guarded_s = median_s(lambda: render_instructions(recipe.template, values, recipe="ab_arena"), args.n)

    result = {
        "files": args.files + 4,
        "hot_reload_check": {
            "snapshot_ms": round(check_s * 1000, 3),
            "stat_each_file_ms": round(stat_s * 1000, 3),
            "ratio": round(check_s / stat_s, 2),
            "target": CHECK_TARGET,
        },
        "one_file_changed": {
            "reload_ms": round(reload_s * 1000, 3),
            "cold_load_ms": round(fresh_s * 1000, 3),
            "first_load_ms": round(cold_s * 1000, 3),
            "ratio": round(reload_s / fresh_s, 3),
            "target": RELOAD_TARGET,
        },
        "render": {
            "guarded_ms": round(guarded_s * 1000, 3),
            "plain_jinja_ms": round(plain_s * 1000, 3),
            "ratio": round(guarded_s / plain_s, 2),
            "target_ms": RENDER_TARGET_MS,
        },
    }
    result["ok"] = (
        result["hot_reload_check"]["ratio"] <= CHECK_TARGET
        and result["one_file_changed"]["ratio"] <= RELOAD_TARGET
        and guarded_s * 1000 < RENDER_TARGET_MS
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
