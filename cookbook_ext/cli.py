"""`jupyter cookbook`: ingest a repository, generate or compare cookbooks headless, manage recipes.

A Jupyter application with subcommands that reads the same config files and settings as the server
(`jupyter_server_config.*`, `c.CookbookApp.*`, `c.RepositoryManager.*`, `c.GenerationRunner.*`...),
and builds the same collaborators (app.py). `ingest` builds only what ingesting needs and imports
none of the server's stack, so it starts fast (tests/test_cli_startup.py keeps it so).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from jupyter_core.application import JupyterApp
from traitlets import Bool, Enum, Integer, List, TraitError, Unicode

from .errors import CookbookError

if TYPE_CHECKING:
    from .app import Cookbook

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

    @contextlib.asynccontextmanager
    async def open_cookbook(self) -> AsyncIterator[Cookbook]:
        """The server's collaborators for a command that runs generations, with kernels of its
        own: shut down, kernels included, when the command is done."""
        from jupyter_client.multikernelmanager import AsyncMultiKernelManager

        from .app import Cookbook

        km = AsyncMultiKernelManager()
        cookbook = Cookbook(
            self,
            root_dir=Path(self.root_dir),
            data_dir=self.resolved_data_dir(),
            db_url=self.db_url(),
            kernel_manager=km,
        )
        try:
            yield cookbook
        finally:
            await cookbook.shutdown()
            await km.shutdown_all()

    def emit_help(self, classes: bool = False) -> Any:
        # The options name classes a command builds only when it runs (ingest must start fast):
        # --help imports them, so their options can be described.
        from .app import default_classes

        self.classes = [*self.classes, *default_classes().values()]
        yield from super().emit_help(classes=classes)

    def headless(self, base_url: str) -> None:
        """Settings of a command that runs generations in a kernel of its own: unless told
        otherwise (--approval, a config file), it does not stop to ask about the model's cells
        (repository code still asks); --base-url points the providers elsewhere."""
        runner = self.config.get("GenerationRunner", {})
        cli_config = self.config.get("CookbookApp", {})
        if "approval_mode" not in runner and "approval_mode" not in cli_config:
            self.config.GenerationRunner.approval_mode = "never"
        if base_url:
            self.config.ProviderRegistry.anthropic_base_url = base_url
            self.config.ProviderRegistry.openai_base_url = base_url

    def source(self) -> str:
        if len(self.extra_args) != 1:
            raise CookbookError(
                "Give exactly one source: https://github.com/OWNER/REPO[/tree/REF] or a local folder.",
                code="bad_request",
            )
        return str(self.extra_args[0])


class RecipeRequestCommand(CookbookCommand):
    """What `generate` and `compare` both ask: the recipe and its common inputs."""

    prompt = Unicode("", config=True, help="What the cookbook should do.")
    ref = Unicode("", config=True, help="Branch, tag or commit.")
    model_id = Unicode("", config=True, help="Hugging Face model id.")
    template = Unicode("quickstart", config=True, help="The recipe.")
    topic = Unicode("", config=True, help="The recipe's topic.")
    complexity = Enum(["basic", "intermediate", "advanced"], default_value="basic", config=True)


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


class GenerateCommand(RecipeRequestCommand):
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
        "follow-up": "GenerateCommand.follow_up",
    }
    flags = {
        "trust": (
            {"GenerateCommand": {"trust": True}},
            "Trust the repository at the commit ingested: run its code and its model card's snippets "
            "(without this, such code is refused, or asked about on a terminal).",
        ),
        "quiet": ({"GenerateCommand": {"quiet": True}}, "Print less."),
    }

    provider = Unicode("", config=True, help="A provider name (cookbook/status lists them; plug-ins too).")
    model = Unicode("", config=True, help="The provider's model name.")
    base_url = Unicode("", config=True, help="The provider's API base URL.")
    out = Unicode("", config=True, help="Where to write the .ipynb.")
    trust = Bool(False, config=True, help="Trust the repository: run its code.")
    quiet = Bool(False, config=True, help="Print less.")
    follow_up = Unicode(
        "",
        config=True,
        help="Continue the generation with this id (printed by an earlier generate): its repository, "
        "template, model and provider are used unless given, its cells run first, and --out gets "
        "the whole notebook. SOURCE may then be left out.",
    )

    def start(self) -> None:
        import asyncio

        if not self.prompt:
            raise CookbookError("Give the cookbook's --prompt.", code="bad_request")
        self.headless(self.base_url)
        self.code = asyncio.run(self._generate())

    async def _generate(self) -> int:
        import asyncio

        from .api_models import GenerationCreate

        async with self.open_cookbook() as cookbook:
            runner = cookbook.runner
            fields: dict[str, Any] = {
                "source": self.source() if not self.follow_up or self.extra_args else None,
                "ref": self.ref or None,
                "prompt": self.prompt,
                "hf_model_id": self.model_id or None,
                "template": self.template,
                "topic": self.topic or None,
                "complexity": cast(Any, self.complexity),
                "provider": self.provider or None,
                "model": self.model or None,
                "trust": self.trust,
            }
            if self.follow_up:
                # Only what the command line gave: the rest comes from the generation followed up.
                given = set(self.config.get("GenerateCommand", {}))
                keep = {"prompt", "trust", "source"} | {{"model_id": "hf_model_id"}.get(g, g) for g in given}
                fields = {k: v for k, v in fields.items() if k in keep and v is not None}
                fields["parent_id"] = self.follow_up
            body = GenerationCreate(**fields)
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
            name, data = await runner.notebook(gen_id, thread=bool(self.follow_up))
            out = Path(self.out or name)
            out.write_bytes(data)
            print(f"{final['status']}: {len(final['cells'])} validated cell(s) written to {out}")
            print(f"generation {gen_id} (continue it with --follow-up {gen_id})")
            if refused_untrusted:
                print(
                    f"error: {refused_untrusted} cell(s) of code from the repository or the model card "
                    "were not run because the repository is not trusted; pass --trust to run its code.",
                    file=sys.stderr,
                )
            return 0 if final["cells"] and final["status"] == "finished" else 1


class EvalCommand(CookbookCommand):
    """Exit status: 0 when every case ran (finished or failed on its own), 1 when a case could
    not run (invalid, did not start, timed out), 2 when the suite file or an option is wrong."""

    name = "jupyter-cookbook-eval"
    description = "Run a suite of cases headless; report how many notebooks re-run cleanly."
    examples = """
jupyter cookbook eval bench/suites/public.yaml --jobs 2 --out results.json
python bench/suites/make_local_fixtures.py /tmp/fx
jupyter cookbook eval bench/suites/local.yaml --root-dir /tmp/fx --notebooks notebooks

The Markdown table goes to stdout, a progress line per case to stderr. Exit status: 0 when every
case ran (finished, or failed on its own), 1 when a case could not run (invalid, did not start,
timed out), 2 when the suite file or an option is wrong.
"""
    aliases = {
        **_COMMON_ALIASES,
        "provider": "EvalCommand.provider",
        "model": "EvalCommand.model",
        "base-url": "EvalCommand.base_url",
        "jobs": "EvalCommand.jobs",
        "out": "EvalCommand.out",
        "notebooks": "EvalCommand.notebooks",
        "approval": "GenerationRunner.approval_mode",
    }
    flags = {
        "trust": (
            {"EvalCommand": {"trust": True}},
            "Trust the repositories of the cases that do not say (a case's or the suite's `trust` "
            "wins): approve their code. Without it, such approvals are declined.",
        ),
    }

    provider = Unicode("", config=True, help="A provider name for every case (default: as cookbook/status).")
    model = Unicode("", config=True, help="The provider's model name for every case.")
    base_url = Unicode("", config=True, help="The provider's API base URL.")
    jobs = Integer(1, min=1, config=True, help="Cases run at once (at most max_running_generations).")
    out = Unicode("", config=True, help="Write the results as JSON here.")
    notebooks = Unicode("", config=True, help="Write each case's .ipynb into this folder.")
    trust = Bool(False, config=True, help="Trust the cases' repositories unless a case says otherwise.")

    def start(self) -> None:
        import asyncio

        from .evaluation import load_suite

        if len(self.extra_args) != 1:
            raise CookbookError(
                "Give exactly one suite file: jupyter cookbook eval SUITE.yaml", code="bad_request"
            )
        suite = load_suite(self.extra_args[0])
        if self.out and not Path(self.out).parent.is_dir():
            raise CookbookError(f"--out: there is no folder {Path(self.out).parent}.", code="bad_request")
        self.headless(self.base_url)
        self.code = asyncio.run(self._evaluate(suite))

    async def _evaluate(self, suite: Any) -> int:
        from .evaluation import markdown, progress_line, run_suite

        async with self.open_cookbook() as cookbook:
            print(f"Running {len(suite.cases)} case(s) of {suite.name} ...", file=sys.stderr, flush=True)
            report = await run_suite(
                suite,
                cookbook.runner,
                cookbook.events,
                provider=self.provider or None,
                model=self.model or None,
                jobs=self.jobs,
                trust=self.trust,
                notebooks=Path(self.notebooks) if self.notebooks else None,
                progress=lambda done, total, case: print(
                    progress_line(done, total, case), file=sys.stderr, flush=True
                ),
            )
        print(markdown(report), end="")
        if self.out:
            Path(self.out).write_text(report.model_dump_json(indent=2) + "\n")
        return 0 if report.all_ran else 1


class RecipesCommand(CookbookCommand):
    name = "jupyter-cookbook-recipes"
    description = "List and show recipes; browse, install, update and remove catalogue packs."
    examples = """
jupyter cookbook recipes list
jupyter cookbook recipes show quickstart [--json]
jupyter cookbook recipes catalog
jupyter cookbook recipes install PACK
jupyter cookbook recipes update [PACK]
jupyter cookbook recipes remove PACK
"""
    aliases = dict(_COMMON_ALIASES)
    flags = {"json": ({"RecipesCommand": {"as_json": True}}, "Print JSON.")}
    as_json = Bool(False, config=True, help="Print JSON.")
    ACTIONS = ("list", "show", "catalog", "install", "update", "remove")

    def start(self) -> None:
        from .config_aliases import forward
        from .recipes import RecipeRegistry

        action, args = (self.extra_args[0], self.extra_args[1:]) if self.extra_args else ("", [])
        if action not in self.ACTIONS:
            raise CookbookError(f"Name an action: {', '.join(self.ACTIONS)}.", code="bad_request")
        wants = {"list": 0, "catalog": 0, "show": 1, "install": 1, "remove": 1, "update": (0, 1)}[action]
        if len(args) not in (wants if isinstance(wants, tuple) else (wants,)):
            raise CookbookError(f"recipes {action}: {_ACTION_USAGE[action]}", code="bad_request")
        registry = RecipeRegistry(
            parent=self, config=forward(self.config, log=self.log), data_dir=self.resolved_data_dir()
        )
        self.code = _recipes_action(registry, action, args, self.as_json)


class CompareCommand(RecipeRequestCommand):
    name = "jupyter-cookbook-compare"
    description = "Run one recipe with 2 to 4 providers or models, each in a kernel of its own, and compare."
    examples = """
jupyter cookbook compare https://github.com/OWNER/REPO --prompt "summarise" --run offline \\
    --run anthropic:claude-sonnet-4-5 --run openai:gpt-4o-mini --out-dir compare/
"""
    aliases = {
        **_COMMON_ALIASES,
        "prompt": "CompareCommand.prompt",
        "ref": "CompareCommand.ref",
        "model-id": "CompareCommand.model_id",
        "template": "CompareCommand.template",
        "topic": "CompareCommand.topic",
        "complexity": "CompareCommand.complexity",
        "run": "CompareCommand.runs",
        "input": "CompareCommand.inputs",
        "base-url": "CompareCommand.base_url",
        "out-dir": "CompareCommand.out_dir",
        "approval": "GenerationRunner.approval_mode",
    }
    flags = {
        "trust": (
            {"CompareCommand": {"trust": True}},
            "Trust the repository at the commit ingested: run its code and its model card's snippets.",
        ),
        "json": ({"CompareCommand": {"as_json": True}}, "Print the comparison as JSON."),
        "quiet": ({"CompareCommand": {"quiet": True}}, "Print less."),
    }

    runs = List(Unicode(), config=True, help="PROVIDER[:MODEL], 2 to 4 times.")
    inputs = List(Unicode(), config=True, help="NAME=VALUE: a recipe input (JSON values: 3, true, [..]).")
    base_url = Unicode("", config=True, help="The providers' API base URL.")
    out_dir = Unicode(".", config=True, help="Where each run's .ipynb is written.")
    trust = Bool(False, config=True, help="Trust the repository: run its code.")
    as_json = Bool(False, config=True, help="Print the comparison as JSON.")
    quiet = Bool(False, config=True, help="Print less.")

    def start(self) -> None:
        import asyncio

        if not self.prompt:
            raise CookbookError("Give the cookbook's --prompt.", code="bad_request")
        if not Path(self.out_dir).is_dir():
            raise CookbookError(f"--out-dir: there is no folder {self.out_dir}.", code="bad_request")
        self.headless(self.base_url)
        self.code = asyncio.run(self._compare())

    async def _compare(self) -> int:
        from .api_models import ComparisonCreate, ComparisonRun

        body = ComparisonCreate(
            source=self.source(),
            ref=self.ref or None,
            prompt=self.prompt,
            hf_model_id=self.model_id or None,
            template=self.template,
            topic=self.topic or None,
            complexity=cast(Any, self.complexity),
            inputs=_parse_inputs(self.inputs),
            trust=self.trust,
            runs=[ComparisonRun.model_validate(_parse_run(r)) for r in self.runs],
        )
        async with self.open_cookbook() as cookbook:
            started = await cookbook.comparisons.start(body)
            await _follow_all(cookbook, started["generations"], self.quiet)
            table = await cookbook.comparisons.get(started["id"])
            for run in table["runs"]:
                _name, data = await cookbook.runner.notebook(run["generation_id"])
                stem = f"compare-{started['id'][:8]}-run{run['index'] + 1}-{run['provider']}"
                out = Path(self.out_dir) / f"{stem}.ipynb"
                out.write_bytes(data)
                run["notebook"] = str(out)
        if self.as_json:
            json.dump(table, sys.stdout, indent=2, default=str)
            print()
        else:
            _print_comparison(table)
        good = [r for r in table["runs"] if r["status"] == "finished" and r["cells_count"]]
        return 0 if good else 1


class CookbookCLI(JupyterApp):
    name = "jupyter-cookbook"
    description = __doc__
    subcommands = {
        "ingest": (IngestCommand, IngestCommand.description),
        "generate": (GenerateCommand, GenerateCommand.description),
        "eval": (EvalCommand, EvalCommand.description),
        "recipes": (RecipesCommand, RecipesCommand.description),
        "compare": (CompareCommand, CompareCommand.description),
    }

    def start(self) -> None:
        if self.subapp is None:
            self.print_help()
            raise CookbookError(f"Name a command: {', '.join(self.subcommands)}.", code="bad_request")
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
        print(f"  kept {data.get('cell_id')}: {data.get('title') or ''}".rstrip(": "))
    elif kind in ("status", "warning") and not quiet:
        print(f"  {kind}: {data.get('message')}")
    elif kind in ("failed", "cancelled"):
        print(f"{kind}: {data.get('message') or ''}".rstrip(": "), file=sys.stderr)
    if kind in ("failed", "finished") and data.get("cause"):
        print(f"cause: {data['cause']}", file=sys.stderr)
        for step in data.get("next_steps") or []:
            print(f"  next: {step.get('label')}", file=sys.stderr)


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


_ACTION_USAGE = {
    "list": "takes no argument",
    "catalog": "takes no argument",
    "show": "give one recipe id",
    "install": "give one pack id",
    "remove": "give one pack id",
    "update": "give one pack id, or none to update every installed pack",
}


def _recipes_action(registry: Any, action: str, args: list[str], as_json: bool) -> int:
    """One `jupyter cookbook recipes` action; the exit status."""
    if action == "list":
        listing = registry.list()
        if as_json:
            print(json.dumps(listing, indent=2))
            return 0
        for recipe in listing["recipes"]:
            where = recipe["pack"] and f"pack {recipe['pack']}" or recipe["source"]
            print(f"{recipe['id']:<24} {recipe['version']:<10} {where:<16} {recipe['title']}")
        for error in listing["errors"]:
            line = f", line {error['line']}" if error.get("line") else ""
            print(f"error: {error['file']}{line}: {error['message']}", file=sys.stderr)
        return 1 if listing["errors"] else 0
    if action == "show":
        recipe = registry.get(args[0])
        from .recipes import describe

        shown = describe(recipe, registry.snapshot().versions.get(recipe.id))
        if as_json:
            print(json.dumps({**shown, "instructions": recipe.spec.instructions}, indent=2))
            return 0
        print(f"{shown['id']} {shown['version']}: {shown['title']}  ({shown['source']}, {recipe.path})")
        if shown["description"]:
            print(f"  {shown['description']}")
        for item in shown["inputs"]:
            extra = ", ".join(f"{k}={item[k]}" for k in ("default", "choices", "min", "max") if k in item)
            need = "required" if item["required"] else "optional"
            print(f"  input {item['name']}: {item['type']}, {need}" + (f" ({extra})" if extra else ""))
        print("  instructions:")
        for line in recipe.spec.instructions.splitlines():
            print(f"    {line}")
        return 0
    catalog = registry.catalog
    if action == "catalog":
        state = catalog.state()
        if as_json:
            print(json.dumps(state, indent=2))
            return 0
        for info in state["catalogs"]:
            if not info["ok"]:
                print(f"warning: catalogue {info['url']}: {info['error']}", file=sys.stderr)
        for pack in state["packs"]:
            versions = pack["installed_version"] or "-"
            if pack["available_version"] and pack["available_version"] != pack["installed_version"]:
                versions += f" -> {pack['available_version']}"
            print(f"{pack['id']:<24} {pack['state']:<10} {versions:<18} {', '.join(pack['recipes'])}")
        return 0
    if action == "remove":
        catalog.remove(args[0])
        print(f"removed {args[0]}")
        return 0
    failed = 0
    if action == "install":
        changes = [catalog.install(args[0])]
    elif args:
        changes = [catalog.update(args[0])]
    else:
        changes = []
        for pack_id in catalog.installed():
            try:
                changes.append(catalog.update(pack_id))
            except CookbookError as err:
                failed += 1
                print(f"error: {pack_id}: {err.message}", file=sys.stderr)
        if not changes and not failed:
            print("No pack is installed.")
    for change in changes:
        verb = "updated to" if change["changed"] else "up to date at"
        if action == "install":
            verb = "installed"
        print(f"{change['id']}: {verb} {change['installed_version']} ({', '.join(change['recipes'])})")
    return 1 if action == "update" and not args and failed else 0


def _parse_run(text: str) -> dict[str, Any]:
    provider, _, model = text.partition(":")  # a model name may hold ':' too (llama3:8b)
    if not provider:
        raise CookbookError(f"--run {text!r}: give PROVIDER or PROVIDER:MODEL.", code="bad_request")
    return {"provider": provider, "model": model or None}


def _parse_inputs(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise CookbookError(f"--input {item!r}: give NAME=VALUE.", code="bad_request")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        out[name.strip()] = value if isinstance(value, bool | int | float | list) else raw
    return out


async def _follow_all(cookbook: Any, gen_ids: list[str], quiet: bool) -> None:
    """Print the runs' events as they come (prefixed by run), answering approvals as generate does."""
    import asyncio

    async def follow(i: int, gen_id: str) -> None:
        after = 0
        while True:
            page = await cookbook.events.wait(gen_id, after, 30.0)
            for ev in page["events"]:
                after = ev["seq"]
                if not quiet or ev["type"] in ("failed", "cancelled"):
                    print(f"[run {i + 1}]", end="")
                    _print_event(ev, quiet)
                if ev["type"] == "approval_required":
                    answer = await asyncio.to_thread(_ask, ev["data"])
                    await cookbook.runner.answer_approval(
                        gen_id, ev["data"]["approval_id"], answer in ("yes", "trust"), trust=answer == "trust"
                    )
            if page["done"]:
                return

    await asyncio.gather(*(follow(i, g) for i, g in enumerate(gen_ids)))


def _print_comparison(table: dict[str, Any]) -> None:
    recipe = table.get("recipe") or {}
    print(f"comparison {table['id']}: recipe {recipe.get('id')} {recipe.get('version')}")
    head = f"{'run':<4} {'provider:model':<36} {'status':<10} {'cells':>5} {'turns':>5} "
    print(head + f"{'tokens in/out/cached':>22} {'cost':>8} {'1st cell':>9} {'notebook':>9}")

    def secs(value: float | None) -> str:
        return f"{value:.1f} s" if value is not None else "-"

    for run in table["runs"]:
        who = f"{run['provider']}:{run.get('model') or '-'}"
        t = run["tokens"]
        tokens = f"{t['input']}/{t['output']}/{t['cached']}"
        print(
            f"{run['index'] + 1:<4} {who[:36]:<36} {run['status']:<10} {run['cells_count']:>5} "
            f"{run['turns']:>5} {tokens:>22} {'$' + format(run['cost_usd'], '.4f'):>8} "
            f"{secs(run['seconds_to_first_cell']):>9} {secs(run['seconds_to_notebook']):>9}"
        )
        if run.get("notebook"):
            print(f"     notebook: {run['notebook']}")


def _commands_first(argv: list[str]) -> list[str]:
    """`jupyter cookbook --data-dir D ingest X` as `jupyter cookbook ingest --data-dir D X`: the
    common options may come before the command's name, as they always could."""
    for i, arg in enumerate(argv):
        if arg in CookbookCLI.subcommands:
            return [arg, *argv[:i], *argv[i + 1 :]]
    return argv


def main(argv: list[str] | None = None) -> int:
    args = _commands_first(list(sys.argv[1:] if argv is None else argv))
    for app_class in (CookbookCLI, *_COMMANDS):
        app_class.clear_instance()  # traitlets keeps one of each: main may run twice in a process
    app = CookbookCLI()
    try:
        return _run(app, args)
    finally:
        for app_class in (CookbookCLI, *_COMMANDS):
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


_COMMANDS = tuple(app_class for app_class, _help in CookbookCLI.subcommands.values())

if __name__ == "__main__":
    sys.exit(main())
