"""`jupyter cookbook ingest|generate` as a user runs them from a terminal."""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.repos import make_local_repo
from tests.fakes.script import tool_use

JUPYTER = str(Path(sys.executable).with_name("jupyter"))


def run(args, cwd, tmp_path, timeout=240, env=None):
    base = {**os.environ, "JUPYTER_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        base.pop(name, None)
    env = {**base, **(env or {})}
    return subprocess.run(
        [JUPYTER, "cookbook", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_ingest_prints_what_was_found(tmp_path):
    make_local_repo(tmp_path)
    proc = run(["ingest", "tiny-model"], tmp_path, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "tiny-model" in proc.stdout
    assert "examples/summarise.py" in proc.stdout
    assert "acme/tiny" in proc.stdout
    assert "jsonschema" in proc.stdout


def test_ingest_json_has_the_context_pack_within_budget(tmp_path):
    make_local_repo(tmp_path)
    proc = run(["ingest", "tiny-model", "--json", "--budget", "2000"], tmp_path, tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["context"]["budget"] == 2000
    assert 0 < result["context"]["total_tokens"] <= 2000
    assert result["hf_ids"][0]["id"] == "acme/tiny"


def test_bad_source_is_a_clear_error_without_traceback(tmp_path):
    proc = run(["ingest", "file:///etc"], tmp_path, tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_generate_offline_writes_a_valid_notebook(tmp_path):
    make_local_repo(tmp_path)
    out = tmp_path / "cookbook.ipynb"
    proc = run(
        ["generate", "tiny-model", "--prompt", "greet", "--trust", "--out", str(out)], tmp_path, tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    nb = nbformat.read(out, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["cookbook"]["provider"] == "offline"
    assert any("greet" in c.source for c in nb.cells if c.cell_type == "code")


def test_generate_exits_non_zero_when_nothing_was_validated(tmp_path):
    make_local_repo(tmp_path)
    script = [
        tool_use("create_cell", {"code": "raise ValueError('never works')", "type": "code"}),
        tool_use("execute_cell", {"cell_id": "c1"}),
        tool_use("finish", {"summary": "gave up"}),
    ]
    out = tmp_path / "out.ipynb"
    with FakeAnthropic(script) as fake:
        proc = run(
            [
                "generate",
                "tiny-model",
                "--prompt",
                "p",
                "--provider",
                "anthropic",
                "--base-url",
                fake.base_url,
                "--out",
                str(out),
            ],
            tmp_path,
            tmp_path,
            env={"ANTHROPIC_API_KEY": "sk-ant-test-" + "k" * 30},
        )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "0 validated cell(s)" in proc.stdout
    assert nbformat.read(out, as_version=4).cells == []


def test_generate_from_a_repository_with_nothing_runnable_fails_clearly(tmp_path):
    repo = tmp_path / "prose-only"
    repo.mkdir()
    (repo / "README.md").write_text("# Prose only\n\nThis project has words but no code.\n")
    (repo / "requirements.txt").write_text("jsonschema\n")
    out = tmp_path / "out.ipynb"
    proc = run(["generate", "prose-only", "--prompt", "show it", "--out", str(out)], tmp_path, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "failed: Nothing runnable was found for prose-only" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "failed: 0 validated cell(s)" in proc.stdout
    assert nbformat.read(out, as_version=4).cells == []  # no intro, install or setup left behind


def test_generate_refuses_untrusted_repository_code_without_a_terminal_and_names_the_flag(tmp_path):
    make_local_repo(tmp_path)
    out = tmp_path / "out.ipynb"
    proc = run(["generate", "tiny-model", "--prompt", "greet", "--out", str(out)], tmp_path, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "--trust" in proc.stderr and "not trusted" in proc.stderr
    assert not any("greet" in c.source for c in nbformat.read(out, as_version=4).cells)


ENV_DUMP_README = """# dumper

```python
import json, os
from pathlib import Path
Path(os.environ["DUMP_TO"]).write_text(json.dumps(dict(os.environ)))
print("dumped")
```
"""


def test_the_cli_kernel_inherits_no_key_from_the_cli_environment(tmp_path):
    repo = tmp_path / "dumper"
    repo.mkdir()
    (repo / "README.md").write_text(ENV_DUMP_README)
    dump = tmp_path / "env.json"
    proc = run(
        [
            "generate",
            "dumper",
            "--prompt",
            "p",
            "--provider",
            "offline",
            "--trust",
            "--out",
            str(tmp_path / "o.ipynb"),
        ],
        tmp_path,
        tmp_path,
        env={
            "ANTHROPIC_API_KEY": "sk-ant-cli-env-" + "k" * 30,
            "MY_SERVICE_TOKEN": "tok-123456",
            "DUMP_TO": str(dump),
        },
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env = json.loads(dump.read_text())
    assert "ANTHROPIC_API_KEY" not in env and "MY_SERVICE_TOKEN" not in env
    assert env["DUMP_TO"] == str(dump)


def test_on_a_terminal_the_cli_asks_and_t_trusts_the_repository(tmp_path):
    import pty

    make_local_repo(tmp_path)
    out = tmp_path / "out.ipynb"
    controller, terminal = pty.openpty()
    try:
        os.write(controller, b"t\n")  # waits in the terminal's buffer for the first question
        env = {**os.environ, "JUPYTER_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
        env.pop("ANTHROPIC_API_KEY", None)
        proc = subprocess.run(
            [JUPYTER, "cookbook", "generate", "tiny-model", "--prompt", "greet", "--out", str(out)],
            cwd=tmp_path,
            env=env,
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        os.close(controller)
        os.close(terminal)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("trust the repository and run") == 1  # asked once, then trusted
    assert any("greet" in c.source for c in nbformat.read(out, as_version=4).cells)
