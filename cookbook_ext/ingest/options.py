"""Settings of one ingestion: where sources may come from, limits, and the context budget."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["IngestOptions"]


@dataclass
class IngestOptions:
    root_dir: Path  # Jupyter root dir; local sources must resolve under it
    cache_dir: Path  # clones are cached in cache_dir/"clones"/<hash of (url, commit)>
    github_url: str = "https://github.com"  # web/git base: GitHub Enterprise or a test server
    github_api_url: str = "https://api.github.com"
    allowed_hosts: tuple[str, ...] = ("github.com",)  # hosts accepted in a user's source URL
    github_token: str | None = None
    max_repo_mb: float = 500.0
    max_files: int = 20000
    clone_timeout: float = 120.0
    budget_tokens: int = 24000
    max_file_bytes: int = 1_000_000  # larger text files are listed, not read

    @property
    def max_repo_bytes(self) -> int:
        return int(self.max_repo_mb * 1024 * 1024)
