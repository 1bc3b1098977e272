"""Request bodies of the REST API, validated once at the edge (pydantic, unknown fields refused)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Complexity = Literal["basic", "intermediate", "advanced"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RepoCreate(_Body):
    source: str = Field(min_length=1, max_length=2048)
    ref: str | None = Field(default=None, min_length=1, max_length=256)


class GenerationCreate(_Body):
    repo_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    source: str | None = Field(default=None, min_length=1, max_length=2048)
    ref: str | None = Field(default=None, min_length=1, max_length=256)
    hf_model_id: str | None = Field(default=None, min_length=1, max_length=200)
    prompt: str = Field(min_length=1, max_length=100_000)
    template: str = Field(default="quickstart", min_length=1, max_length=64)
    topic: str | None = Field(default=None, max_length=2000)
    complexity: Complexity = "basic"
    kernel_id: str | None = Field(default=None, pattern=r"^[0-9a-fA-F-]{1,64}$")
    provider: str | None = Field(default=None, max_length=32)
    model: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[\w.:/@-]+$")
    data_path: str | None = Field(default=None, min_length=1, max_length=1024)
    compare_with: str | None = Field(default=None, min_length=1, max_length=200)
    approval: Literal["never", "risky", "always"] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> GenerationCreate:
        if bool(self.repo_id) == bool(self.source):
            raise ValueError("give exactly one of repo_id (an ingested repository) or source")
        return self


class ApprovalAnswer(_Body):
    approved: bool


class SecretPut(_Body):
    value: str = Field(min_length=1, max_length=16384)
