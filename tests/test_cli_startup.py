"""`jupyter cookbook ingest` starts fast: its process imports only what ingesting needs.

The command runs for real (`jupyter cookbook ingest`, through Jupyter's dispatcher) with Python's
import-time report on (PYTHONPROFILEIMPORTTIME, i.e. `-X importtime`), which names every module the
process imported; a server-side module coming back on the ingest path fails here. The command is
a Jupyter application reading the server's config files; the other tests check that it does.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cookbook_ext import cli
from tests.fakes.repos import make_local_repo

JUPYTER = str(Path(sys.executable).with_name("jupyter"))

# Not needed to ingest a local folder and write the store: the server, its request models, the
# providers' SDKs, the kernel machinery, notebooks, the Hub and GitHub clients, and Cookbook's own
# server-side modules.
HEAVY = (
    "jupyter_server",
    "tornado",
    "jupyter_client",
    "ipykernel",
    "zmq",
    "anthropic",
    "openai",
    "httpx",
    "pydantic",
    "pydantic_core",
    "nbformat",
    "jsonschema",
    "huggingface_hub",
    "github",
    "requests",
    "cookbook_ext.services",
    "cookbook_ext.api_models",
    "cookbook_ext.agent",
    "cookbook_ext.kernel",
    "cookbook_ext.kernel_env",
    "cookbook_ext.notebook",
    "cookbook_ext.huggingface",
    "cookbook_ext.guardrails",
    "cookbook_ext.routes",
    "cookbook_ext.extension",
    "cookbook_ext.recipes",
)

_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$")


def imported_modules(stderr: str) -> set[str]:
    return {m.group(1) for line in stderr.splitlines() if (m := _IMPORTED.match(line))}


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def run_ingest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    make_local_repo(tmp_path)
    env = {**os.environ, "JUPYTER_DATA_DIR": str(tmp_path / "data"), "PYTHONPROFILEIMPORTTIME": "1"}
    return subprocess.run(
        [JUPYTER, "cookbook", "ingest", "tiny-model", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ingest_imports_none_of_the_server_stack(tmp_path):
    proc = run_ingest(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "tiny-model" in proc.stdout and "acme/tiny" in proc.stdout
    modules = imported_modules(proc.stderr)
    # The report was read, and the command really ingested and wrote its store.
    assert {"cookbook_ext.cli", "cookbook_ext.ingest.pipeline", "cookbook_ext.store"} <= modules
    assert (tmp_path / "data" / "cookbook" / "cookbook.db").is_file()
    assert heavy_in(modules) == []


def test_ingest_json_imports_none_of_the_server_stack(tmp_path):
    proc = run_ingest(tmp_path, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["hf_ids"][0]["id"] == "acme/tiny"
    assert heavy_in(imported_modules(proc.stderr)) == []


def test_importing_the_cli_imports_only_what_a_jupyter_command_needs():
    code = (
        "import sys; before = set(sys.modules); import cookbook_ext.cli; "
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    ours = {m for m in out.split() if m.startswith("cookbook_ext")}
    assert ours <= {"cookbook_ext", "cookbook_ext._version", "cookbook_ext.cli", "cookbook_ext.errors"}
    # A Jupyter application (jupyter_core, traitlets) reading the server's config files, and
    # nothing of the store, the request models or the crypto until a command runs.
    third_party = {"pydantic", "sqlalchemy", "cryptography", "jupyter_server", "tornado"}
    assert not {m.split(".")[0] for m in out.split()} & third_party


def _write_server_config(config_dir: Path, text: str) -> Path:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "jupyter_server_config.py").write_text(text)
    return config_dir


def test_the_cli_reads_the_servers_config_files(tmp_path):
    """One configuration for the server and the terminal: c.CookbookApp.* (the old names) and
    the collaborators' own sections, from the server's config files."""
    config_dir = _write_server_config(
        tmp_path / "config",
        f"c.CookbookApp.context_budget = 1500\nc.CookbookApp.data_dir = {str(tmp_path / 'from-config')!r}\n",
    )
    make_local_repo(tmp_path)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config_dir), "JUPYTER_DATA_DIR": str(tmp_path / "d")}
    proc = subprocess.run(
        [JUPYTER, "cookbook", "ingest", "tiny-model", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["context"]["budget"] == 1500
    assert (tmp_path / "from-config" / "cookbook.db").is_file()
    assert "deprecated" in proc.stderr  # the old name still works, and says where it moved


def test_the_command_line_wins_over_the_config_files(tmp_path):
    config_dir = _write_server_config(tmp_path / "config", "c.RepositoryManager.context_budget = 1500\n")
    make_local_repo(tmp_path)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config_dir), "JUPYTER_DATA_DIR": str(tmp_path / "d")}
    proc = subprocess.run(
        [JUPYTER, "cookbook", "ingest", "tiny-model", "--json", "--budget", "2500"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["context"]["budget"] == 2500


def test_a_fresh_data_dir_is_private(tmp_path):
    make_local_repo(tmp_path)
    assert (
        cli.main(
            [
                "--data-dir",
                str(tmp_path / "data"),
                "--root-dir",
                str(tmp_path),
                "ingest",
                str(tmp_path / "tiny-model"),
            ]
        )
        == 0
    )
    root = tmp_path / "data"
    made = {str(p.relative_to(root)): oct(p.stat().st_mode & 0o777) for p in sorted(root.rglob("*"))}
    assert made["secrets.key"] == "0o600" and made["cache/clones"] == "0o700"
    assert made["cookbook.db"] == "0o600"
    assert oct(root.stat().st_mode & 0o777) == "0o700"


def test_a_github_token_the_user_stored_in_the_server_is_used_by_the_cli(tmp_path, monkeypatch):
    """The CLI and the server are the same user's: a token saved in the panel serves both."""
    from traitlets.config import Config, LoggingConfigurable

    from cookbook_ext.app import Repositories

    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    parent = LoggingConfigurable(config=Config())
    server = Repositories(parent, root_dir=tmp_path, data_dir=tmp_path / "data")
    try:
        server.secrets.secrets.put(server.owner, "GITHUB_TOKEN", "ghp_stored_in_the_server_00000000")
    finally:
        server.close()
    command = cli.IngestCommand()
    command.initialize(["--data-dir", str(tmp_path / "data"), "--root-dir", str(tmp_path), "x"])
    parts = Repositories(command, root_dir=tmp_path, data_dir=command.resolved_data_dir())
    try:
        assert parts.repositories.options().github_token == "ghp_stored_in_the_server_00000000"
    finally:
        parts.close()


def test_a_validation_error_is_still_a_clear_error(monkeypatch, capsys):
    import pydantic

    class Body(pydantic.BaseModel):
        complexity: int

    def bad(self):
        Body(complexity="very")  # type: ignore[arg-type]

    monkeypatch.setattr(cli.IngestCommand, "start", bad)
    assert cli.main(["ingest", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: complexity: ") and "Traceback" not in err


def test_other_errors_are_not_swallowed(monkeypatch):
    def broken(self):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli.IngestCommand, "start", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["ingest", "x"])


def test_a_bad_value_on_the_command_line_is_a_clear_error(tmp_path):
    proc = subprocess.run(
        [JUPYTER, "cookbook", "generate", "x", "--prompt", "p", "--complexity", "extreme"],
        cwd=tmp_path,
        env={**os.environ, "JUPYTER_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "complexity" in proc.stderr and "extreme" in proc.stderr and "Traceback" not in proc.stderr
