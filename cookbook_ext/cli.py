"""`jupyter cookbook`: ingest a repository or generate a cookbook headless, from a terminal.

A Jupyter application with subcommands that reads the same config files and settings as the server
(`jupyter_server_config.*`, `c.CookbookApp.*`, `c.RepositoryManager.*`, `c.GenerationRunner.*`...),
and builds the same collaborators (app.py). `ingest` builds only what ingesting needs and imports
none of the server's stack, so it starts fast (tests/test_cli_startup.py keeps it so).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, cast

from jupyter_core.application import JupyterApp
from traitlets import Bool, Enum, TraitError, Unicode

from .errors import CookbookError

# Options every command takes, as `--name value` (also accepted before the command's name).
_COMMON_ALIASES = {
    "data-dir": "CookbookCommand.data_dir",
    "root-dir": "CookbookCommand.root_dir",
    "github-url": "RepositoryManager.github_url",
    "github-api-url": "RepositoryManager.github_api_url",
    "hf-endpoint": "ModelMetadata.hf_endpoint",
    "allowed-host": "RepositoryManager.allowed_hosts",
}


class CookbookCommand(JupyterApp):
    """A `jupyter cookbook` subcommand: the server's config files, then the command line."""

    # The server's config files: what an admin set there holds here too.
    config_file_name = Unicode("jupyter_server_config")
    aliases = dict(_COMMON_ALIASES)
    flags: dict[str, Any] = {}

    data_dir = Unicode(
        "",
        config=True,
        help="Cookbook's data folder (default: c.CookbookApp.data_dir, else the Jupyter data dir).",
    )
    root_dir = Unicode(".", config=True, help="Local sources must be under this folder.")
    code = 0  # the process's exit status, set by start()

    def resolved_data_dir(self) -> Path:
        if self.data_dir:
            return Path(self.data_dir)
        configured = self.config.get("CookbookApp", {}).get("data_dir")
        if configured:
            return Path(configured)
        from jupyter_core.paths import jupyter_data_dir

        return Path(jupyter_data_dir()) / "cookbook"

    def db_url(self) -> str:
        return str(self.config.get("CookbookApp", {}).get("db_url") or "")

    def source(self) -> str:
        if len(self.extra_args) != 1:
            raise CookbookError(
                "Give exactly one source: https://github.com/OWNER/REPO[/tree/REF] or a local folder.",
                code="bad_request",
            )
        return str(self.extra_args[0])


class IngestCommand(CookbookCommand):
    name = "jupyter-cookbook-ingest"
    description = "Read a repository and print what was found."
    aliases = {**_COMMON_ALIASES, "ref": "IngestCommand.ref", "budget": "RepositoryManager.context_budget"}
    flags = {"json": ({"IngestCommand": {"as_json": True}}, "Print the whole result as JSON.")}

    ref = Unicode("", config=True, help="Branch, tag or commit.")
    as_json = Bool(False, config=True, help="Print the whole result as JSON.")

    def start(self) -> None:
        from .app import Repositories

        parts = Repositories(
            self, root_dir=Path(self.root_dir), data_dir=self.resolved_data_dir(), db_url=self.db_url()
        )
        try:
            result = parts.repositories.ingest_sync(self.source(), self.ref or None)
        finally:
            parts.close()
        if self.as_json:
            json.dump(result, sys.stdout, indent=2, default=str)
            print()
        else:
            _print_summary(result)
        self.code = 0


class GenerateCommand(CookbookCommand):
    name = "jupyter-cookbook-generate"
    description = "Generate a cookbook headless, with a kernel of its own."
    aliases = {
        **_COMMON_ALIASES,
        "prompt": "GenerateCommand.prompt",
        "ref": "GenerateCommand.ref",
        "model-id": "GenerateCommand.model_id",
        "template": "GenerateCommand.template",
        "topic": "GenerateCommand.topic",
        "complexity": "GenerateCommand.complexity",
        "provider": "GenerateCommand.provider",
        "model": "GenerateCommand.model",
        "base-url": "GenerateCommand.base_url",
        "out": "GenerateCommand.out",
        "approval": "GenerationRunner.approval_mode",
    }
    flags = {
        "trust": (
            {"GenerateCommand": {"trust": True}},
            "Trust the repository at the commit ingested: run its code and its model card's snippets "
            "(without this, such code is refused, or asked about on a terminal).",
        ),
        "quiet": ({"GenerateCommand": {"quiet": True}}, "Print less."),
    }

    prompt = Unicode("", config=True, help="What the cookbook should do.")
    ref = Unicode("", config=True, help="Branch, tag or commit.")
    model_id = Unicode("", config=True, help="Hugging Face model id.")
    template = Unicode("quickstart", config=True, help="The recipe.")
    topic = Unicode("", config=True, help="The recipe's topic.")
    complexity = Enum(["basic", "intermediate", "advanced"], default_value="basic", config=True)
    provider = Unicode("", config=True, help="A provider name (cookbook/status lists them; plug-ins too).")
    model = Unicode("", config=True, help="The provider's model name.")
    base_url = Unicode("", config=True, help="The provider's API base URL.")
    out = Unicode("", config=True, help="Where to write the .ipynb.")
    trust = Bool(False, config=True, help="Trust the repository: run its code.")
    quiet = Bool(False, config=True, help="Print less.")

    def start(self) -> None:
        import asyncio

        if not self.prompt:
            raise CookbookError("Give the cookbook's --prompt.", code="bad_request")
        # The CLI runs a kernel of its own: unless told otherwise (--approval, a config file),
        # it does not stop to ask about the model's cells. Repository code still asks.
        runner = self.config.get("GenerationRunner", {})
        cli_config = self.config.get("CookbookApp", {})
        if "approval_mode" not in runner and "approval_mode" not in cli_config:
            self.config.GenerationRunner.approval_mode = "never"
        if self.base_url:
            self.config.ProviderRegistry.anthropic_base_url = self.base_url
            self.config.ProviderRegistry.openai_base_url = self.base_url
        self.code = asyncio.run(self._generate())

    async def _generate(self) -> int:
        import asyncio

        from jupyter_client.multikernelmanager import AsyncMultiKernelManager

        from .api_models import GenerationCreate
        from .app import Cookbook

        km = AsyncMultiKernelManager()
        cookbook = Cookbook(
            self,
            root_dir=Path(self.root_dir),
            data_dir=self.resolved_data_dir(),
            db_url=self.db_url(),
            kernel_manager=km,
        )
        runner = cookbook.runner
        try:
            body = GenerationCreate(
                source=self.source(),
                ref=self.ref or None,
                prompt=self.prompt,
                hf_model_id=self.model_id or None,
                template=self.template,
                topic=self.topic or None,
                complexity=cast(Any, self.complexity),
                provider=self.provider or None,
                model=self.model or None,
                trust=self.trust,
            )
            record = await runner.start(body)
            refused_untrusted = 0
            gen_id, after = record["id"], 0
            while True:
                page = await cookbook.events.wait(gen_id, after, 30.0)
                for ev in page["events"]:
                    after = ev["seq"]
                    _print_event(ev, self.quiet)
                    if ev["type"] == "approval_required":
                        answer = await asyncio.to_thread(_ask, ev["data"])
                        refused_untrusted += answer == "refused"
                        await runner.answer_approval(
                            gen_id,
                            ev["data"]["approval_id"],
                            answer in ("yes", "trust"),
                            trust=answer == "trust",
                        )
                if page["done"]:
                    break
            final = await runner.get(gen_id)
            name, data = await runner.notebook(gen_id)
            out = Path(self.out or name)
            out.write_bytes(data)
            print(f"{final['status']}: {len(final['cells'])} validated cell(s) written to {out}")
            if refused_untrusted:
                print(
                    f"error: {refused_untrusted} cell(s) of code from the repository or the model card "
                    "were not run because the repository is not trusted; pass --trust to run its code.",
                    file=sys.stderr,
                )
            return 0 if final["cells"] and final["status"] == "finished" else 1
        finally:
            await cookbook.shutdown()
            await km.shutdown_all()


class CookbookCLI(JupyterApp):
    name = "jupyter-cookbook"
    description = __doc__
    subcommands = {
        "ingest": (IngestCommand, IngestCommand.description),
        "generate": (GenerateCommand, GenerateCommand.description),
    }

    def start(self) -> None:
        if self.subapp is None:
            self.print_help()
            raise CookbookError("Name a command: ingest or generate.", code="bad_request")
        self.subapp.start()


def _print_summary(repo: dict[str, Any]) -> None:
    stats = repo.get("stats") or {}
    print(f"{repo.get('name')}  ({repo.get('kind')}, commit {(repo.get('commit') or '-')[:12]})")
    print(f"  files: {stats.get('files', len(repo.get('files', [])))}, read: {stats.get('read', '?')}")
    deps = repo.get("dependencies") or {}
    pkgs = ", ".join(p["name"] for p in deps.get("packages", [])[:15])
    print(f"  python: {deps.get('python') or 'unspecified'}; dependencies: {pkgs or 'none found'}")
    print(f"  license: {repo.get('license') or 'unknown'}")
    for ex in repo.get("examples", [])[:10]:
        print(f"  example: {ex.get('path')}  {ex.get('title') or ''}")
    for hf in repo.get("hf_ids", [])[:10]:
        print(f"  hugging face: {hf['id']}  (mentioned {hf.get('count', 1)}x)")
    ctx = repo.get("context") or {}
    print(f"  context pack: {ctx.get('total_tokens')} / {ctx.get('budget')} tokens")
    for section in ctx.get("sections", []):
        cut = " (truncated)" if section.get("truncated") else ""
        print(f"    {section['name']}: {section['tokens']} tokens{cut}")
    for warning in repo.get("warnings", []):
        print(f"  warning: {warning}")


def _print_event(ev: dict[str, Any], quiet: bool) -> None:
    kind, data = ev["type"], ev["data"]
    if kind == "cell_executed":
        mark = "ok" if data.get("ok") else f"error: {data.get('short_error') or data.get('status')}"
        print(f"  ran {data.get('cell_id')}: {mark}")
    elif kind == "cell_validated":
        print(f"  kept {data.get('cell_id')}")
    elif kind in ("status", "warning") and not quiet:
        print(f"  {kind}: {data.get('message')}")
    elif kind in ("failed", "cancelled"):
        print(f"{kind}: {data.get('message') or ''}".rstrip(": "), file=sys.stderr)


def _ask(data: dict[str, Any]) -> str:
    """Ask on the terminal: "yes", "trust" (trust the repository and run), "no", or "refused"
    (repository code with no terminal to ask: the user must pass --trust). Without a terminal
    (CI, pipes) nothing waits and the answer is no."""
    untrusted = bool(data.get("untrusted"))
    if not sys.stdin or not sys.stdin.isatty():
        if untrusted:
            print(
                f"  refused {data.get('cell_id')}: code from an untrusted repository; pass --trust to run it",
                file=sys.stderr,
            )
            return "refused"
        print("  declined: no terminal to ask for approval", file=sys.stderr)
        return "no"
    whose = {"repository": "the repository's code", "model_card": "the model card's code"}.get(
        str(data.get("origin")), "written by the model"
    )
    print(f"\n--- cell {data.get('cell_id')}, {whose} ({', '.join(data.get('reasons', []))}) ---")
    for detail in data.get("details") or []:
        print(f"  will: {detail}")
    print(data.get("source", ""))
    question = "Run this cell? [y/N" + ("/t = trust the repository and run" if untrusted else "") + "] "
    try:
        reply = input(question).strip().lower()
    except EOFError:
        return "no"
    if untrusted and reply in ("t", "trust"):
        return "trust"
    return "yes" if reply in ("y", "yes") else "no"


def _commands_first(argv: list[str]) -> list[str]:
    """`jupyter cookbook --data-dir D ingest X` as `jupyter cookbook ingest --data-dir D X`: the
    common options may come before the command's name, as they always could."""
    for i, arg in enumerate(argv):
        if arg in CookbookCLI.subcommands:
            return [arg, *argv[:i], *argv[i + 1 :]]
    return argv


def main(argv: list[str] | None = None) -> int:
    args = _commands_first(list(sys.argv[1:] if argv is None else argv))
    for app_class in (CookbookCLI, IngestCommand, GenerateCommand):
        app_class.clear_instance()  # traitlets keeps one of each: main may run twice in a process
    app = CookbookCLI()
    try:
        return _run(app, args)
    finally:
        for app_class in (CookbookCLI, IngestCommand, GenerateCommand):
            app_class.clear_instance()


def _run(app: CookbookCLI, args: list[str]) -> int:
    try:
        app.initialize(args)
        app.start()
    except CookbookError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    except TraitError as err:  # a bad value on the command line or in a config file
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except SystemExit as exit:
        return int(exit.code or 0) if isinstance(exit.code, int) or exit.code is None else 2
    except Exception as err:
        # A pydantic ValidationError (generate's request model). Only a command that imported
        # pydantic can raise one, so ingest never imports it just to catch it.
        pydantic = sys.modules.get("pydantic")
        if pydantic is None or not isinstance(err, getattr(pydantic, "ValidationError", ())):
            raise
        errors = cast(Any, err).errors()
        print(
            "error: " + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors),
            file=sys.stderr,
        )
        return 2
    sub = app.subapp
    return int(getattr(sub, "code", 0)) if sub is not None else 0


if __name__ == "__main__":
    sys.exit(main())
