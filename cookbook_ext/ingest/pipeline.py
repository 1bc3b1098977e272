"""One ingestion, end to end: validate the source, fetch it, scan the tree, extract what a cookbook
needs (READMEs, examples, notebooks, dependencies, license, Hugging Face ids) and build the
context pack. Blocking; callers run it in a thread.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CookbookError
from .context import build_context
from .deps import dependency_files, parse_dependencies
from .examples import find_readmes, load_readmes, rank_examples, script_candidates
from .hfids import collect_hf_ids
from .license import detect_license
from .notebooks import load_notebooks, notebook_candidates
from .options import IngestOptions
from .scan import READABLE_KINDS, TextReader, scan_tree
from .sources import Source, fetch_checkout, local_commit, parse_source

__all__ = ["IngestResult", "ingest"]


@dataclass
class IngestResult:
    source: str
    kind: str
    url: str | None
    owner: str | None
    repo: str | None
    ref: str | None
    commit: str | None
    checkout: str
    name: str
    metadata: dict[str, Any] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    readmes: list[dict[str, Any]] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)
    notebooks: list[dict[str, Any]] = field(default_factory=list)
    dependencies: dict[str, Any] = field(default_factory=dict)
    license: str | None = None
    hf_ids: list[dict[str, Any]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    cached: bool = False  # a GitHub checkout came from the clone cache

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "url": self.url,
            "owner": self.owner,
            "repo": self.repo,
            "ref": self.ref,
            "commit": self.commit,
            "checkout": self.checkout,
            "name": self.name,
            "metadata": self.metadata,
            "files": self.files,
            "stats": self.stats,
            "readmes": self.readmes,
            "examples": self.examples,
            "notebooks": self.notebooks,
            "dependencies": self.dependencies,
            "license": self.license,
            "hf_ids": self.hf_ids,
            "context": self.context,
            "warnings": self.warnings,
            "cached": self.cached,
        }


def _fetch_metadata(src: Source, options: IngestOptions) -> dict[str, Any]:
    # Imported lazily: PyGithub is only needed for GitHub sources.
    from .github import fetch_repo_metadata

    return fetch_repo_metadata(
        str(src.owner),
        str(src.repo),
        token=options.github_token,
        api_url=options.github_api_url,
        timeout=min(20.0, options.clone_timeout),
    )


def ingest(source: str, *, ref: str | None = None, options: IngestOptions) -> IngestResult:
    """Ingest a GitHub repository or a folder under the root dir. Raises the domain errors of
    `cookbook_ext.errors` with messages meant for the user."""
    started = time.perf_counter()
    src = parse_source(source, ref, options)
    warnings: list[str] = []
    metadata: dict[str, Any] = {}
    cached = False
    if src.kind == "github":
        # Metadata (description, topics, stars) comes from the REST API while git fetches the
        # files; git is the authority on access, so an API failure is only a warning.
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cookbook-gh-meta")
        try:
            meta_future: Future[dict[str, Any]] = pool.submit(_fetch_metadata, src, options)
            checkout = fetch_checkout(src, options)
            metadata = _metadata_result(meta_future, warnings)
        finally:
            # A failed clone must not wait for the API call to time out.
            pool.shutdown(wait=False, cancel_futures=True)
        root, cached = checkout.root, checkout.cached
        commit: str | None = checkout.commit
        resolved_ref: str | None = checkout.ref
        label = f"{src.owner}/{src.repo}"
    else:
        assert src.path is not None
        root = src.path
        commit = local_commit(root, Path(options.root_dir).resolve())
        resolved_ref = None
        label = f"The folder '{src.source}'"

    result = IngestResult(
        source=src.source,
        kind=src.kind,
        url=src.url,
        owner=src.owner,
        repo=src.repo,
        ref=resolved_ref,
        commit=commit,
        checkout=str(root),
        name=src.name,
        metadata=metadata,
        cached=cached,
    )
    _extract(result, root, options, label)
    result.warnings = warnings + result.warnings
    result.stats["seconds"] = round(time.perf_counter() - started, 3)
    return result


def _metadata_result(future: Future[dict[str, Any]], warnings: list[str]) -> dict[str, Any]:
    try:
        meta = future.result()
    except ImportError:
        return {}
    except CookbookError as exc:
        warnings.append(f"Repository details from the GitHub API are missing: {exc.message}")
        return {}
    except Exception:  # noqa: BLE001 - metadata is optional; the files are what matters
        warnings.append("Repository details from the GitHub API are missing: the request failed.")
        return {}
    keys = ("description", "topics", "license", "stars", "default_branch", "private")
    return {k: meta.get(k) for k in keys} if isinstance(meta, dict) else {}


def _extract(result: IngestResult, root: Path, options: IngestOptions, label: str) -> None:
    scan = scan_tree(
        root,
        max_files=options.max_files,
        max_bytes=options.max_repo_bytes,
        max_file_bytes=options.max_file_bytes,
        label=label,
    )
    warnings = scan.warnings
    reader = TextReader(root, options.max_file_bytes)
    files = scan.files

    readmes = load_readmes(find_readmes(files), reader, warnings)
    notebooks = load_notebooks(notebook_candidates(files), reader, warnings)
    examples = rank_examples(readmes, script_candidates(files), notebooks, reader)
    deps = parse_dependencies(dependency_files(files), reader)
    warnings.extend(deps.warnings)
    license_id = detect_license(files, reader, result.metadata)

    texts: list[tuple[str, str]] = [(r["path"], r["text"]) for r in readmes]
    texts += [(nb["path"], "\n".join(c["source"] for c in nb["cells"])) for nb in notebooks]
    texts += [(e["path"], e["code"]) for e in examples if e["kind"] == "script"]
    hf_ids = collect_hf_ids(files, reader, texts, options.max_file_bytes)

    if reader.masked:
        warnings.append(f"{reader.masked} credential(s) found in repository files were masked.")

    readable = sum(1 for f in files if f.kind in READABLE_KINDS)
    result.files = [f.to_dict() for f in files]
    result.readmes = readmes
    result.notebooks = notebooks
    result.examples = examples
    result.dependencies = deps.to_dict()
    result.license = license_id
    result.hf_ids = hf_ids
    result.stats = {
        "files": len(files),
        "bytes": scan.bytes,
        "read": len(reader.read_paths),
        "skipped": len(files) - readable,
        "readable": readable,
    }
    result.warnings = warnings
    result.context = build_context(result.to_dict(), options.budget_tokens)
