"""Jupyter Server configuration for the Cookbook Galata tests.

Galata's helper disables authentication and XSRF checks and serves from a
fresh temporary root; never use this configuration outside tests.
"""

import os
import subprocess
import sys
from pathlib import Path
from tempfile import mkdtemp

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # noqa: F821  (injected by the traitlets config loader)

configure_jupyter_server(c)

c.ServerApp.allow_root = True
# Notebook 7 (installed with the test extra) is served by the same server, at /tree and
# /notebooks/...: the Galata helpers (window.jupyterapp) there too.
c.JupyterNotebookApp.expose_app_in_browser = True
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = int(os.environ.get("COOKBOOK_UI_PORT", "18888"))
c.ServerApp.port_retries = 0

root = Path(os.environ.get("COOKBOOK_UI_ROOT") or mkdtemp(prefix="cookbook-galata-"))
root.mkdir(parents=True, exist_ok=True)
c.ServerApp.root_dir = str(root)

# Cookbook: a clean state per run, the offline provider (plus the scripted
# test provider behind it, see cookbook_test_provider.py), no network.
sys.path.insert(0, str(Path(__file__).parent))
c.CookbookApp.data_dir = mkdtemp(prefix="cookbook-galata-state-")
c.CookbookApp.default_provider = "offline"
c.CookbookApp.provider_classes = {
    "anthropic": "cookbook_ext.agent.providers.anthropic.AnthropicProvider",
    "openai": "cookbook_ext.agent.providers.openai.OpenAIProvider",
    "offline": "cookbook_test_provider.ScriptedProvider",
}
c.CookbookApp.hf_endpoint = "http://127.0.0.1:9"  # closed port: the Hub is never reached
c.CookbookApp.max_turns = 200

# The scripted provider's gates (files the tests create through the contents API) are
# relative to the server's root.
os.environ["COOKBOOK_TEST_GATE_ROOT"] = str(root)

# No test may reach the internet (Hugging Face Hub, GitHub), nor a package index: kernels inherit
# this environment, so a `%pip install` fails at once (fixture requirements are installed already).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.pop("ANTHROPIC_API_KEY", None)
os.environ.pop("OPENAI_API_KEY", None)
os.environ["PIP_NO_INDEX"] = "1"
os.environ["PIP_INDEX_URL"] = "http://127.0.0.1:9/"
os.environ.pop("PIP_EXTRA_INDEX_URL", None)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def make_fixture_repo(folder: Path) -> None:
    """A small model repository the offline provider can build a cookbook from."""
    _write(
        folder / "README.md",
        "# tiny-sentiment\n\n"
        "A tiny sentiment toolkit built around the Hugging Face model "
        "[distilbert-sst2](https://huggingface.co/distilbert/distilbert-base-uncased-finetuned-sst-2-english).\n\n"
        "## Usage\n\n"
        "```python\n"
        "from tiny_sentiment import score\n"
        "print(score('I love this'))\n"
        "```\n",
    )
    _write(folder / "requirements.txt", "nbformat>=5.0\n")  # installed already: no pip run
    _write(
        folder / "tiny_sentiment" / "__init__.py",
        '"""A dictionary-based sentiment scorer (no downloads needed)."""\n\n'
        "POSITIVE = {'love', 'great', 'good', 'nice'}\n"
        "NEGATIVE = {'hate', 'bad', 'awful', 'poor'}\n\n\n"
        "def score(text):\n"
        "    words = text.lower().split()\n"
        "    return sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)\n",
    )
    for i in range(1, 4):
        _write(
            folder / "examples" / f"example_{i}.py",
            f'"""Example {i}: score a few sentences."""\n'
            "import sys\n"
            "sys.path.insert(0, '..')\n"
            "sentences = ['I love this', 'This is bad', 'great and good']\n"
            f"print('example {i}', [len(s.split()) for s in sentences])\n",
        )
    if not (folder / ".git").exists():
        try:
            env = {
                **os.environ,
                "GIT_AUTHOR_NAME": "t",
                "GIT_AUTHOR_EMAIL": "t@example.org",
                "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@example.org",
                # Fixed dates: the same commit id every run, for stable screenshots.
                "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
                "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
            }
            subprocess.run(["git", "init", "-q", "-b", "main"], cwd=folder, check=True, env=env)
            subprocess.run(["git", "add", "-A"], cwd=folder, check=True, env=env)
            subprocess.run(["git", "commit", "-qm", "fixture"], cwd=folder, check=True, env=env)
        except (OSError, subprocess.CalledProcessError):
            pass  # a plain folder is a valid source too


make_fixture_repo(root / "fixtures" / "tiny-sentiment")


# -- recipes: a catalogue and an administrator's folder --------------------------------------------

CATALOG_PACK = "galata-pack"  # catalog.spec.ts installs and removes it
CATALOG_RECIPE = "galata_catalog"
DOWN_CATALOG = "http://127.0.0.1:9/index.json"  # closed port: a catalogue that is down


def serve_catalog() -> str:
    """A recipe catalogue on 127.0.0.1, served from a daemon thread: an index listing one pack and
    the pack, a .zip of one recipe (the built-in quickstart under a new id) with its sha256. Returns
    the index's URL."""
    import hashlib
    import io
    import json
    import threading
    import zipfile
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cookbook_ext.recipes.registry import BUILTIN_FOLDER

    recipe = (
        (BUILTIN_FOLDER / "quickstart.yaml")
        .read_text(encoding="utf-8")
        .replace("id: quickstart", f"id: {CATALOG_RECIPE}", 1)
        .replace("title: Quickstart", "title: Catalogue recipe (Galata)", 1)
        .replace("order: 10", "order: 90", 1)  # listed after the built-ins
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        entry = zipfile.ZipInfo(f"{CATALOG_RECIPE}.yaml", date_time=(2026, 1, 1, 0, 0, 0))
        entry.external_attr = 0o644 << 16  # data: not executable
        archive.writestr(entry, recipe)
    pack = buffer.getvalue()
    pack_name = f"{CATALOG_PACK}-1.0.0.zip"
    index = {
        "packs": [
            {
                "id": CATALOG_PACK,
                "version": "1.0.0",
                "description": "A pack served by the Galata tests' own catalogue.",
                "recipes": [CATALOG_RECIPE],
                "url": pack_name,  # relative to the index
                "sha256": hashlib.sha256(pack).hexdigest(),
            }
        ]
    }
    files = {
        "/index.json": ("application/json", json.dumps(index).encode()),
        f"/{pack_name}": ("application/zip", pack),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = files.get(self.path.split("?", 1)[0])
            if found is None:
                self.send_error(404)
                return
            kind, body = found
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the server's log is the test's

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="galata-catalog", daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/index.json"


c.RecipeRegistry.catalog_urls = [serve_catalog(), DOWN_CATALOG]
# Recipe files a test writes through the contents API (run-again.spec.ts).
(root / "admin-recipes").mkdir(exist_ok=True)
c.RecipeRegistry.recipe_paths = [str(root / "admin-recipes")]
