"""The REST API's models: request bodies validated once at the edge (unknown fields refused), and
the responses the handlers answer with."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Complexity = Literal["basic", "intermediate", "advanced"]
# A stored secret's name, matched in full (the secrets module uses the same rule).
SecretName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
# A recipe version: semver's shape (the registry compares versions exactly).
_SEMVER = r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RepoCreate(_Body):
    source: str = Field(min_length=1, max_length=2048)
    ref: str | None = Field(default=None, min_length=1, max_length=256)
    trust: bool = False  # the user trusts this repository at the commit ingested: its code may run


class RepoTrustPut(_Body):
    trusted: bool


# A follow-up's notebook cells: at most this many, this many bytes of sources and outputs.
MAX_NOTEBOOK_CELLS = 60
MAX_NOTEBOOK_CELLS_BYTES = 200_000


class NotebookCell(_Body):
    """One cell of a follow-up's unit, as the front end sees it (outputs as short text)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    id: str = Field(min_length=1, max_length=128, pattern=r"^[\w.:-]+$")
    cell_type: Literal["code", "markdown", "raw"] = "code"
    source: str = Field(default="", max_length=MAX_NOTEBOOK_CELLS_BYTES)
    outputs_text: str = Field(default="", max_length=20_000)
    edited: bool = False  # the user changed it since Cookbook put it there


class GenerationCreate(_Body):
    repo_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    source: str | None = Field(default=None, min_length=1, max_length=2048)
    ref: str | None = Field(default=None, min_length=1, max_length=256)
    hf_model_id: str | None = Field(default=None, min_length=1, max_length=200)
    prompt: str = Field(min_length=1, max_length=100_000)
    template: str = Field(default="quickstart", min_length=1, max_length=64)
    # The recipe's version, pinned ("run again" sends the stored request, which has it): 409
    # naming the versions there are when it is gone. Default: the recipe's current version.
    template_version: str | None = Field(default=None, max_length=64, pattern=_SEMVER)
    # The recipe's typed inputs by name (GET cookbook/recipes lists them); for the built-in
    # recipes prompt, topic, complexity, hf_model_id, data_path, compare_with work as top-level
    # fields too. Checked against the recipe: 422 naming the field.
    inputs: dict[Annotated[str, Field(min_length=1, max_length=64)], Any] = Field(
        default_factory=dict, max_length=32
    )
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
    # The fresh-kernel check after the generation (default: the server's GenerationRunner.verify).
    verify: Literal["fresh_kernel", "off"] | None = None
    # The user's notebook under the root: the check runs in a scratch copy of its folder.
    notebook_path: str | None = Field(default=None, min_length=1, max_length=1024)
    # A follow-up: the generation it continues. Its repository, template (and the template's
    # inputs), hf_model_id, complexity, provider and model are inherited unless given here.
    parent_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    # A follow-up's unit as the notebook shows it now, the user's edits included.
    notebook_cells: list[NotebookCell] | None = Field(default=None, max_length=MAX_NOTEBOOK_CELLS)

    @model_validator(mode="after")
    def _one_source(self) -> GenerationCreate:
        if self.repo_id and self.source:
            raise ValueError("give exactly one of repo_id (an ingested repository) or source")
        if not (self.repo_id or self.source or self.parent_id):
            raise ValueError(
                "give exactly one of repo_id (an ingested repository) or source, or the parent_id "
                "of the generation this follows up"
            )
        if self.notebook_cells is not None:
            if not self.parent_id:
                raise ValueError("notebook_cells: a follow-up's cells go with its parent_id")
            size = sum(len(c.source.encode()) + len(c.outputs_text.encode()) for c in self.notebook_cells)
            if size > MAX_NOTEBOOK_CELLS_BYTES:
                raise ValueError(
                    f"notebook_cells: {size // 1000} kB of sources and outputs, more than "
                    f"{MAX_NOTEBOOK_CELLS_BYTES // 1000} kB; send shorter outputs_text"
                )
            ids = [c.id for c in self.notebook_cells]
            if len(set(ids)) != len(ids):
                raise ValueError("notebook_cells: two cells have the same id")
        return self


class ComparisonRun(_Body):
    provider: str = Field(min_length=1, max_length=32)
    model: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[\w.:/@-]+$")


class ComparisonCreate(GenerationCreate):
    """One recipe, the same inputs and repository, run by 2 to 4 providers or models, each
    generation in a kernel of its own."""

    runs: list[ComparisonRun] = Field(min_length=2, max_length=4)

    @model_validator(mode="after")
    def _runs_choose_the_model(self) -> ComparisonCreate:
        for name in ("kernel_id", "provider", "model", "keep_secrets", "parent_id"):
            if name in self.model_fields_set:
                raise ValueError(
                    f"{name}: a comparison's runs name the provider and model, and each runs in a kernel "
                    "of its own"
                )
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
    # False for a provider without a model (offline): the panel hides tokens and cost.
    uses_model: bool = True


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
    # The recipe that made it: {id, version, sha256 of the rendered instructions, source, pack?}.
    recipe: dict[str, Any] | None = None
    parent_id: str | None = None  # the generation a follow-up continues
    # Why a failed or empty run ended so (one sentence), and the buttons for what to do next:
    # [{action: install_and_retry | show_attempts | try_provider | trust_repository, label, ...}].
    cause: str | None = None
    next_steps: list[NextStep] = Field(default_factory=list)
    # What the history shows of it.
    repo_name: str | None = None
    template: str | None = None
    cells_count: int = 0


class NextStep(_Response):
    action: Literal["install_and_retry", "show_attempts", "try_provider", "trust_repository"]
    label: str
    packages: list[str] | None = None  # install_and_retry
    provider: str | None = None  # try_provider
    repo_id: str | None = None  # trust_repository
    count: int | None = None  # show_attempts


class GenerationDetail(GenerationRecord):
    cells: list[dict[str, Any]]
    last_seq: int
    children: list[str] = Field(default_factory=list)  # its follow-ups, oldest first
    # The latest fresh-kernel check (the `verified` event's data), None before or without one.
    verification: dict[str, Any] | None = None


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


class RecipeFileError(_Response):
    file: str
    line: int | None = None
    message: str


class RecipeList(_Response):
    recipes: list[dict[str, Any]]
    errors: list[RecipeFileError] = Field(default_factory=list)


class CatalogInfo(_Response):
    url: str
    ok: bool
    error: str | None = None
    packs: int = 0


class PackState(_Response):
    id: str
    description: str = ""
    recipes: list[str] = Field(default_factory=list)
    state: Literal["available", "installed", "update"]
    installed_version: str | None = None
    available_version: str | None = None
    catalog: str | None = None
    listed: bool = True


class PackChange(PackState):
    changed: bool


class CatalogState(_Response):
    catalogs: list[CatalogInfo]
    packs: list[PackState]


class ComparisonStarted(_Response):
    id: str
    status: str
    generations: list[str]
    recipe: dict[str, Any] | None = None


class ComparisonRunState(_Response):
    index: int
    provider: str
    model: str | None = None
    generation_id: str
    status: str
    message: str | None = None
    cells: list[dict[str, Any]] = Field(default_factory=list)
    cells_count: int = 0
    verification: dict[str, Any] | None = None
    turns: int = 0
    tokens: dict[str, int] = Field(default_factory=dict)
    cost_usd: float = 0.0
    seconds_to_first_cell: float | None = None
    seconds_to_notebook: float | None = None
    notebook_url: str


class ComparisonDetail(_Response):
    id: str
    status: str
    created_at: float
    request: dict[str, Any]
    recipe: dict[str, Any] | None = None
    runs: list[ComparisonRunState]


class ComparisonSummary(_Response):
    id: str
    status: str
    created_at: float
    recipe: dict[str, Any] | None = None
    runs: list[dict[str, Any]]


class ComparisonList(_Response):
    comparisons: list[ComparisonSummary]
