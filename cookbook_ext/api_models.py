"""The REST API's models: request bodies validated once at the edge (unknown fields refused), and
the responses the handlers answer with."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Complexity = Literal["basic", "intermediate", "advanced"]
# A stored secret's name, matched in full (the secrets module uses the same rule).
SecretName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RepoCreate(_Body):
    source: str = Field(min_length=1, max_length=2048)
    ref: str | None = Field(default=None, min_length=1, max_length=256)
    trust: bool = False  # the user trusts this repository at the commit ingested: its code may run


class RepoTrustPut(_Body):
    trusted: bool


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
    # The stored secrets this generation's kernel may see, by name (default none): chosen by the
    # user, never from the repository, the prompt or the model.
    secrets: list[SecretName] = Field(default_factory=list, max_length=32)
    keep_secrets: bool = False  # leave them in the user's kernel afterwards
    trust: bool = False  # trust the repository (as ingested for this generation): its code may run

    @model_validator(mode="after")
    def _one_source(self) -> GenerationCreate:
        if bool(self.repo_id) == bool(self.source):
            raise ValueError("give exactly one of repo_id (an ingested repository) or source")
        return self


class ApprovalAnswer(_Body):
    approved: bool
    # "Trust this repository and run": approves, and trusts the repository at this commit.
    trust: bool = False

    @model_validator(mode="after")
    def _trust_approves(self) -> ApprovalAnswer:
        if self.trust and not self.approved:
            raise ValueError("trust: true goes with approved: true")
        return self


class SecretPut(_Body):
    value: str = Field(min_length=1, max_length=16384)


# -- responses --------------------------------------------------------------------------------------
# What the REST API answers, validated on the way out so a handler never hands out a loose dict.
# Records the store keeps as JSON (a repository's ingestion result, a generation's request and
# usage) stay open (`extra="allow"`): their fields grow with ingestion and recipes.


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")


class ProviderInfo(_Response):
    name: str
    display_name: str | None = None
    available: bool
    configured: bool
    default_model: str | None = None
    error: str | None = None


class StatusResponse(_Response):
    version: str
    providers: list[ProviderInfo]
    default_provider: str
    api_key_configured: bool


class RepoSummary(_Response):
    id: str
    source: str | None = None
    kind: str | None = None
    url: str | None = None
    name: str | None = None
    commit: str | None = None
    trusted: bool = False
    trusted_at: float | None = None
    files_count: int = 0


class RepoList(_Response):
    repos: list[RepoSummary]


class GenerationRecord(_Response):
    id: str
    status: str
    request: dict[str, Any]
    provider: str
    model: str | None = None
    usage: dict[str, Any] = Field(default_factory=dict)
    message: str | None = None
    created_at: float
    finished_at: float | None = None


class GenerationDetail(GenerationRecord):
    cells: list[dict[str, Any]]
    last_seq: int


class GenerationList(_Response):
    generations: list[GenerationRecord]


class GenerationStarted(_Response):
    id: str
    status: str


class Event(_Response):
    seq: int
    type: str
    data: dict[str, Any]
    ts: float


class EventsPage(_Response):
    events: list[Event]
    done: bool


class CancelResult(_Response):
    id: str
    status: str


class ApprovalResult(_Response):
    approval_id: str
    approved: bool
    trusted: bool = False


class SecretInfo(_Response):
    name: str
    hint: str
    unreadable: bool = False


class SecretList(_Response):
    secrets: list[SecretInfo]
    problem: str | None = None


class RepoFile(_Response):
    path: str
    content: str
    start_line: int
    end_line: int
    total_lines: int
    truncated: bool
    masked: bool


class ContextPack(_Response):
    """A repository's context pack as the model sees it (empty before ingestion finished)."""


class ModelSummary(_Response):
    id: str


class ModelList(_Response):
    models: list[ModelSummary]


class RecipeList(_Response):
    recipes: list[dict[str, Any]]
