"""`jupyter cookbook`: ingest a repository or generate a cookbook headless, from a terminal."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from pydantic import ValidationError

from .errors import CookbookError


def _config(args: argparse.Namespace) -> Any:
    from .services import ServicesConfig

    data_dir = Path(args.data_dir) if args.data_dir else Path(jupyter_data_dir()) / "cookbook"
    config = ServicesConfig(root_dir=Path(args.root_dir).resolve(), data_dir=data_dir)
    if getattr(args, "budget", None):
        config.context_budget = args.budget
    if getattr(args, "base_url", None):
        config.anthropic_base_url = args.base_url
        config.openai_base_url = args.base_url
    for name in ("github_url", "github_api_url", "hf_endpoint"):
        value = getattr(args, name, None)
        if value:
            setattr(config, name, value)
    if getattr(args, "approval", None):
        config.approval_mode = args.approval
    if getattr(args, "allowed_host", None):
        config.allowed_hosts = tuple(args.allowed_host)
    return config


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


def cmd_ingest(args: argparse.Namespace) -> int:
    from .ingest import ingest
    from .services import Services

    services = Services(_config(args))
    try:
        options = services.ingest_options("cli", args.budget)
        result = ingest(args.source, ref=args.ref, options=options).to_dict()
        services.store.sync.save_repo(result)
    finally:
        services.store.close()
    if args.json:
        json.dump(result, sys.stdout, indent=2, default=str)
        print()
    else:
        _print_summary(result)
    return 0


async def _generate(args: argparse.Namespace) -> int:
    from jupyter_client.multikernelmanager import AsyncMultiKernelManager

    from .api_models import GenerationCreate
    from .services import Services

    km = AsyncMultiKernelManager()
    services = Services(_config(args), kernel_manager=km)
    try:
        body = GenerationCreate(
            source=args.source,
            ref=args.ref,
            prompt=args.prompt,
            hf_model_id=args.model_id,
            template=args.template,
            topic=args.topic,
            complexity=args.complexity,
            provider=args.provider,
            model=args.model,
        )
        record = await services.start_generation("cli", body)
        gen_id, after = record["id"], 0
        while True:
            page = await services.wait_events(gen_id, after, 30.0)
            for ev in page["events"]:
                after = ev["seq"]
                _print_event(ev, args.quiet)
                if ev["type"] == "approval_required":
                    approved = await asyncio.to_thread(_ask, ev["data"])
                    await services.answer_approval(gen_id, ev["data"]["approval_id"], approved)
            if page["done"]:
                break
        final = await services.get_generation(gen_id)
        name, data = await services.notebook(gen_id)
        out = Path(args.out or name)
        out.write_bytes(data)
        print(f"{final['status']}: {len(final['cells'])} validated cell(s) written to {out}")
        return 0 if final["cells"] and final["status"] == "finished" else 1
    finally:
        await services.shutdown()
        await km.shutdown_all()


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


def _ask(data: dict[str, Any]) -> bool:
    """Ask on the terminal; without one (CI, pipes) the answer is no."""
    if not sys.stdin or not sys.stdin.isatty():
        print("  declined: no terminal to ask for approval", file=sys.stderr)
        return False
    print(f"\n--- cell {data.get('cell_id')} ({', '.join(data.get('reasons', []))}) ---")
    print(data.get("source", ""))
    try:
        return input("Run this cell? [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def cmd_generate(args: argparse.Namespace) -> int:
    return asyncio.run(_generate(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jupyter cookbook", description=__doc__)
    parser.add_argument("--data-dir", help="Cookbook's data folder (default: the Jupyter data dir).")
    parser.add_argument("--root-dir", default=".", help="Local sources must be under this folder.")
    parser.add_argument("--github-url", help="GitHub Enterprise web/git URL.")
    parser.add_argument("--github-api-url", help="GitHub Enterprise API URL.")
    parser.add_argument("--hf-endpoint", help="Hugging Face Hub endpoint.")
    parser.add_argument("--allowed-host", action="append", help="Host accepted in repository URLs (repeat).")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="Read a repository and print what was found.")
    p.add_argument("source", help="https://github.com/OWNER/REPO[/tree/REF] or a local folder")
    p.add_argument("--ref", help="Branch, tag or commit.")
    p.add_argument("--budget", type=int, help="Token budget of the context pack (default 24000).")
    p.add_argument("--json", action="store_true", help="Print the whole result as JSON.")
    p.set_defaults(func=cmd_ingest)

    g = sub.add_parser("generate", help="Generate a cookbook headless, with a kernel of its own.")
    g.add_argument("source")
    g.add_argument("--prompt", required=True)
    g.add_argument("--ref")
    g.add_argument("--model-id", help="Hugging Face model id.")
    g.add_argument("--template", default="quickstart")
    g.add_argument("--topic")
    g.add_argument("--complexity", default="basic", choices=["basic", "intermediate", "advanced"])
    g.add_argument("--provider", choices=["anthropic", "openai", "offline"])
    g.add_argument("--model", help="The provider's model name.")
    g.add_argument("--base-url", help="The provider's API base URL.")
    g.add_argument("--out", help="Where to write the .ipynb.")
    g.add_argument(
        "--approval",
        default="never",
        choices=["never", "risky", "always"],
        help="Ask on the terminal before running risky cells (default never: the CLI runs its own kernel).",
    )
    g.add_argument("--quiet", action="store_true")
    g.set_defaults(func=cmd_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CookbookError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    except ValidationError as err:
        print(
            "error: " + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()),
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
