"""`jupyter cookbook eval SUITE.yaml` as a user runs it: the local suite end to end with the offline
provider, and every kind of bad input reported as one line while the other cases still run."""

import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cookbook_ext.evaluation import CaseResult, measure, summarise

ROOT = Path(__file__).resolve().parents[1]
LOCAL_SUITE = ROOT / "bench" / "suites" / "local.yaml"


def _fixtures_module():
    """bench/suites/make_local_fixtures.py, the script that writes the local suite's repositories."""
    spec = importlib.util.spec_from_file_location(
        "make_local_fixtures", LOCAL_SUITE.with_name("make_local_fixtures.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_fixtures = _fixtures_module()
FIXTURES, make_fixtures = _fixtures.FIXTURES, _fixtures.make_fixtures
JUPYTER = str(Path(sys.executable).with_name("jupyter"))


def cookbook_eval(args, cwd, timeout=400):
    env = {**os.environ, "JUPYTER_DATA_DIR": str(cwd / "data"), "HF_HUB_OFFLINE": "1"}
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        env.pop(name, None)
    return subprocess.run(
        [JUPYTER, "cookbook", "eval", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Run:
    def __init__(self, proc, out):
        self.proc = proc
        self.report = json.loads(out.read_text()) if out.exists() else None
        self.by_name = {c["name"]: c for c in (self.report or {}).get("cases", [])}


# -- the local suite --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    work = tmp_path_factory.mktemp("eval-local")
    make_fixtures(work / "fixtures")
    out = work / "results.json"
    proc = cookbook_eval(
        [LOCAL_SUITE, "--root-dir", work / "fixtures", "--jobs", "2", "--out", out, "--notebooks", "nbs"],
        work,
    )
    run = Run(proc, out)
    run.work = work
    return run


def test_the_local_suite_runs_every_case_and_exits_zero(local):
    assert local.proc.returncode == 0, local.proc.stdout + local.proc.stderr
    assert [c["name"] for c in local.report["cases"]] == list(FIXTURES)
    status = {name: c["status"] for name, c in local.by_name.items()}
    assert status["readme-runs"] == "finished" and status["two-steps"] == "finished"
    assert status["prose-only"] == "failed"
    assert "Nothing runnable" in local.by_name["prose-only"]["reason"]
    assert local.by_name["prose-only"]["code"] == "nothing_validated"


def test_each_case_reports_cells_times_turns_tokens_and_cost(local):
    case = local.by_name["readme-runs"]
    assert case["validated_code_cells"] >= 2 and case["validated_cells"] > case["validated_code_cells"]
    assert 0 < case["time_to_first_cell_s"] <= case["time_to_notebook_s"] < 120
    assert case["turns"] > 0
    assert case["tokens"] == {"input": 0, "output": 0, "cached": 0, "cache_write": 0}  # offline: free
    assert case["cost_usd"] == 0.0 and case["provider"] == "offline"
    assert case["verified"] in ("passed", "failed", "skipped", "not checked")
    # Its README says to pip install a package: trying to is time spent installing.
    assert local.by_name["needs-missing"]["install_seconds"] > 0
    assert local.by_name["two-steps"]["install_seconds"] == 0  # nothing to install there
    # A case with no notebook has no first cell, even if scaffolding ran and was deleted again.
    missing = local.by_name["needs-missing"]
    assert missing["validated_code_cells"] > 0 or missing["time_to_first_cell_s"] is None
    assert len({c["generation_id"] for c in local.report["cases"]}) == len(FIXTURES)


def test_the_summary_adds_the_cases_up(local):
    summary, cases = local.report["summary"], local.report["cases"]
    assert summary["cases"] == summary["ran"] == len(FIXTURES)
    assert summary["finished"] == sum(c["status"] == "finished" for c in cases)
    assert summary["failed"] == sum(c["status"] == "failed" for c in cases)
    passed = sum(c["verified"] == "passed" for c in cases)
    assert summary["rerun_clean"] == passed
    assert summary["rerun_clean_pct"] == round(100 * passed / len(cases), 1)
    made = [c for c in cases if c["status"] == "finished" and c["validated_code_cells"]]
    assert summary["with_cells"] == len(made) >= 2
    times = sorted(c["time_to_notebook_s"] for c in made)  # of the cases that made a notebook
    assert summary["median_time_to_notebook_s"] == pytest.approx(statistics.median(times), abs=1e-3)
    assert summary["install_seconds"] == pytest.approx(sum(c["install_seconds"] for c in cases), abs=0.01)
    assert summary["tokens"]["input"] == 0 and summary["cost_usd"] == 0.0
    assert local.report["all_ran"] is True and local.report["run"]["jobs"] == 2


def test_the_markdown_table_has_a_row_per_case_and_the_summary(local):
    out = local.proc.stdout
    assert "| # | case | status | code cells | re-run | time to notebook |" in out
    for i, name in enumerate(FIXTURES, start=1):
        assert f"| {i} | {name} | {local.by_name[name]['status']} |" in out
    assert "Re-run cleanly in a fresh kernel: **" in out
    assert "Median time to notebook (of the " in out


def test_a_progress_line_is_printed_per_case(local):
    lines = [line for line in local.proc.stderr.splitlines() if line.startswith("[") and "/5] " in line]
    assert sorted(line.split("] ", 1)[1].split(":")[0] for line in lines) == sorted(FIXTURES)
    assert [line.split("]")[0] for line in lines] == [f"[{i}/5" for i in range(1, 6)]


def test_jobs_2_runs_two_cases_at_once(local):
    cases = local.report["cases"]
    # Case 2 starts while case 1 is still running (with one job it would wait for it).
    assert cases[1]["started_at"] < cases[0]["ended_at"]


def test_each_cases_notebook_is_written(local):
    path = local.work / local.by_name["readme-runs"]["notebook"]
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert any("count_words" in c.source for c in nb.cells if c.cell_type == "code")


# -- bad input: one line each, the others still run -----------------------------------------------

BAD_SUITE = """\
name: bad-inputs
defaults:
  timeout: 120
  trust: true
cases:
  - name: fine
    source: readme-runs
    prompt: Count the words.
  - name: bad-template
    source: readme-runs
    prompt: Count the words.
    template: no-such-template
  - name: missing-repo
    source: no-such-folder
    prompt: Count the words.
  - name: bad-field
    source: readme-runs
    prompt: Count the words.
    complexity: expert
  - name: hangs
    source: hangs
    prompt: Sleep.
    timeout: 4
  - name: untrusted
    source: stranger
    prompt: Count the words.
    trust: false
"""

HANGS_README = """# hangs

```python
import time
time.sleep(600)
```
"""


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    work = tmp_path_factory.mktemp("eval-bad")
    fixtures = work / "fixtures"
    make_fixtures(fixtures, ["readme-runs"])
    for name, readme in (("hangs", HANGS_README), ("stranger", FIXTURES["readme-runs"]["README.md"])):
        (fixtures / name).mkdir()
        (fixtures / name / "README.md").write_text(readme)
    (fixtures / "stranger" / "wordcount.py").write_text(FIXTURES["readme-runs"]["wordcount.py"])
    suite = work / "bad.yaml"
    suite.write_text(BAD_SUITE)
    out = work / "results.json"
    proc = cookbook_eval(
        [
            suite,
            "--root-dir",
            fixtures,
            "--jobs",
            "4",
            "--GenerationRunner.max_running_generations=2",
            "--out",
            out,
        ],
        work,
    )
    return Run(proc, out)


def test_a_suite_with_cases_that_could_not_run_exits_1_after_running_the_others(bad):
    assert bad.proc.returncode == 1, bad.proc.stdout + bad.proc.stderr
    assert "Traceback" not in bad.proc.stderr
    assert bad.by_name["fine"]["status"] == "finished"
    assert bad.by_name["fine"]["validated_code_cells"] >= 1
    assert bad.report["all_ran"] is False
    summary = bad.report["summary"]
    assert (summary["errors"], summary["invalid"], summary["timed_out"]) == (2, 1, 1)


def test_an_unknown_template_is_one_line_of_the_report(bad):
    case = bad.by_name["bad-template"]
    assert case["status"] == "error" and case["code"] == "unknown_template"
    assert "Unknown template 'no-such-template'" in case["reason"]
    assert case["generation_id"] is None  # refused before anything started
    assert "| 2 | bad-template | error |" in bad.proc.stdout
    assert "bad-template: error: Unknown template" in bad.proc.stderr


def test_a_missing_repository_is_one_line_of_the_report(bad):
    case = bad.by_name["missing-repo"]
    assert case["status"] == "error" and case["code"] == "not_found"
    assert "There is no folder 'no-such-folder'" in case["reason"]
    assert "| 3 | missing-repo | error |" in bad.proc.stdout


def test_a_schema_error_names_the_case_its_line_and_the_field(bad):
    case = bad.by_name["bad-field"]
    assert case["status"] == "invalid" and case["line"] == 16
    assert case["reason"].startswith("case 4 (line 16) 'bad-field': field 'complexity':")
    assert "| 4 | bad-field | invalid |" in bad.proc.stdout


def test_a_case_past_its_timeout_is_cancelled_and_reported_as_timed_out(bad):
    case = bad.by_name["hangs"]
    assert case["status"] == "timed_out" and case["code"] == "timeout"
    assert "timeout of 4 s" in case["reason"] and "cancelled" in case["reason"]
    # It stopped when cancelled: its generation ended (a `cancelled` event) well before the sleep.
    assert 4 <= case["time_to_notebook_s"] < 60
    assert "| 5 | hangs | timed out |" in bad.proc.stdout


def test_an_untrusted_case_declines_repository_code_and_records_it(bad):
    case = bad.by_name["untrusted"]
    assert case["trusted"] is False
    assert case["approvals"], case
    assert all(a["approved"] is False and a["trusted"] is False for a in case["approvals"])
    assert {a["origin"] for a in case["approvals"]} == {"repository"}
    assert not any("count_words" in str(a) for a in case["approvals"])  # only what was asked about
    assert case["status"] == "failed" and case["validated_code_cells"] == 0


def test_trusted_cases_need_no_approval(bad):
    assert bad.by_name["fine"]["trusted"] is True
    assert bad.by_name["fine"]["approvals"] == []


def test_jobs_are_held_to_the_runners_max_running_generations(bad):
    assert bad.report["run"]["jobs"] == 2
    assert not any(c["code"] == "too_many" for c in bad.report["cases"])


# -- the suite file itself ----------------------------------------------------------------------------


def test_malformed_yaml_is_reported_with_its_line_and_nothing_runs(tmp_path):
    suite = tmp_path / "broken.yaml"
    suite.write_text("name: broken\ncases:\n  - source: a\n    prompt: [unclosed\n  - source: b\n")
    out = tmp_path / "results.json"
    proc = cookbook_eval([suite, "--out", out], tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: broken.yaml, line ") and "not valid YAML" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("- just\n- a list\n", "a suite is a mapping with a `cases` list"),
        ("name: x\ncases: []\n", "`cases` must be a non-empty list"),
        ("name: x\ncase:\n  - source: a\n", "unknown top-level field(s) case"),
        (
            "defaults:\n  complexity: expert\ncases:\n  - {source: a, prompt: p}\n",
            "defaults: field 'complexity'",
        ),
    ],
)
def test_a_suite_that_is_not_a_suite_is_one_clear_error(tmp_path, text, says):
    suite = tmp_path / "s.yaml"
    suite.write_text(text)
    proc = cookbook_eval([suite], tmp_path, timeout=120)
    assert proc.returncode == 2
    assert says in proc.stderr and "Traceback" not in proc.stderr


def test_a_missing_suite_file_is_one_clear_error(tmp_path):
    proc = cookbook_eval([tmp_path / "nope.yaml"], tmp_path, timeout=120)
    assert proc.returncode == 2
    assert "There is no suite file" in proc.stderr and "Traceback" not in proc.stderr


# -- the fresh-kernel result ------------------------------------------------------------------------


def _events(*typed):
    return [{"seq": i, "type": t, "data": d, "ts": ts} for i, (t, d, ts) in enumerate(typed, start=1)]


def test_the_fresh_kernel_result_is_read_from_the_verified_event():
    events = _events(
        ("cell_created", {"cell_id": "c1", "source": "print(1)"}, 101.0),
        ("cell_validated", {"cell_id": "c1", "cell": {"cell_type": "code"}}, 102.0),
        ("verified", {"status": "failed", "seconds": 1.5, "attempt": 1}, 103.5),
        ("verified", {"status": "passed", "seconds": 1.0, "attempt": 2}, 104.5),
        ("finished", {}, 105.0),
    )
    base = CaseResult(index=1, name="x", status="finished")
    result = measure(base, events, 100.0, {"turns": 3, "input_tokens": 10, "cache_read_tokens": 4})
    # The last check is the notebook's; the time of every check (a repair re-checks) adds up.
    assert result.verified == "passed" and result.verification == {
        "status": "passed",
        "seconds": 1.0,
        "attempt": 2,
    }
    assert result.verify_seconds == 2.5
    assert (result.time_to_notebook_s, result.time_to_first_cell_s) == (5.0, 2.0)
    assert (result.turns, result.tokens.input, result.tokens.cached) == (3, 10, 4)
    failed = measure(base, events[:3] + events[-1:], 100.0, {})
    summary = summarise([result, failed, measure(base, events[:2] + events[-1:], 100.0, {})])
    assert [failed.verified, summarise([failed]).rerun_clean] == ["failed", 0]
    assert (summary.rerun_clean, summary.rerun_checked, summary.rerun_clean_pct) == (1, 2, 33.3)


def test_without_a_verified_event_the_re_run_is_not_checked():
    events = _events(("finished", {}, 101.0))
    result = measure(CaseResult(index=1, name="x", status="finished"), events, 100.0, {})
    assert result.verified == "not checked" and result.verify_seconds is None


@pytest.mark.parametrize("command", ["eval", "generate", "ingest"])
def test_help_describes_every_option_without_a_traceback(tmp_path, command):
    env = {**os.environ, "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run(
        [JUPYTER, "cookbook", command, "--help"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "--github-url" in proc.stdout
    if command == "eval":
        assert "--jobs" in proc.stdout and "Exit status: 0 when every" in proc.stdout


def test_the_public_suite_is_a_valid_suite_of_github_repositories_and_hub_models(tmp_path):
    from cookbook_ext.evaluation import Case, load_suite
    from cookbook_ext.huggingface import validate_model_id
    from cookbook_ext.ingest import parse_source
    from cookbook_ext.ingest.options import IngestOptions

    suite = load_suite(ROOT / "bench" / "suites" / "public.yaml")
    assert len(suite.cases) >= 12
    assert all(isinstance(c, Case) for c in suite.cases), [c for c in suite.cases if not isinstance(c, Case)]
    for case in suite.cases:
        options = IngestOptions(root_dir=tmp_path, cache_dir=tmp_path)
        assert parse_source(case.source, case.ref, options).kind == "github"
        validate_model_id(case.hf_model_id)
    assert len({c.source for c in suite.cases}) == len(suite.cases)


def test_install_seconds_are_the_run_time_of_cells_that_install_packages():
    events = _events(
        ("cell_created", {"cell_id": "c1", "source": "if missing:\n    %pip install -q x"}, 101.0),
        ("cell_executed", {"cell_id": "c1", "duration_ms": 1500}, 102.0),
        ("cell_created", {"cell_id": "c2", "source": "print('pip install is how')"}, 103.0),
        ("cell_executed", {"cell_id": "c2", "duration_ms": 700}, 104.0),
        ("tool_call", {"name": "edit_cell", "arguments": {"cell_id": "c2", "code": "!pip install y"}}, 105.0),
        ("cell_executed", {"cell_id": "c2", "duration_ms": 250}, 106.0),
        ("finished", {}, 107.0),
    )
    result = measure(CaseResult(index=1, name="x", status="finished"), events, 100.0, {})
    assert result.install_seconds == 1.75
