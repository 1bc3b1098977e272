"""Repository ingestion: a GitHub repository or a local folder becomes an IngestResult (file tree,
READMEs, examples, notebooks, dependencies, license, Hugging Face ids) and a context pack.

Public API: `ingest`, `IngestOptions`, `IngestResult`, `parse_source`, `Source`, `build_context`,
`read_repo_file`, `list_repo_files`.
"""

from __future__ import annotations

from .context import build_context
from .files import list_repo_files, read_repo_file
from .options import IngestOptions
from .pipeline import IngestResult, ingest
from .sources import Source, parse_source

__all__ = [
    "IngestOptions",
    "IngestResult",
    "Source",
    "build_context",
    "ingest",
    "list_repo_files",
    "parse_source",
    "read_repo_file",
]
