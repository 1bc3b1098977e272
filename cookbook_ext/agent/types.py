"""What a generation takes and gives: the request, its budgets, the event sink and the outcome.

Shared by the loop, the prompt and the tools; importing it pulls in no SDK, kernel or nbformat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from .follow_up import FollowUp
    from .providers.base import Usage

__all__ = [
    "DEFAULT_CELL_TIMEOUT",
    "Budgets",
    "EventSink",
    "GenerationOutcome",
    "GenerationRequest",
    "GenerationStatus",
]

# Seconds one cell may run before it is interrupted: the one default for the server's setting,
# the generation budgets and the kernel executor.
DEFAULT_CELL_TIMEOUT = 300.0

GenerationStatus = Literal["finished", "failed", "cancelled"]


@dataclass
class GenerationRequest:
    prompt: str
    template: str = "quickstart"
    topic: str | None = None
    complexity: str = "basic"  # basic | intermediate | advanced
    hf_model_id: str | None = None
    data_path: str | None = None  # use_my_data: the user's file or folder, confined by the server
    compare_with: str | None = None  # ab_arena: a second model id or a setting
    # The recipe as the server prepared it (recipes/registry.py): the rendered instructions, what
    # the generation records ({id, version, sha256, ...}), the user's inputs, the offline
    # provider's hints. Unset, the built-in recipe named by `template` is used.
    instructions: str | None = None
    recipe: dict[str, Any] | None = None
    inputs: dict[str, Any] | None = None
    offline: dict[str, Any] | None = None
    # A follow-up: what it knows of the generation it continues (agent/follow_up.py).
    follow_up: FollowUp | None = None


@dataclass
class Budgets:
    max_turns: int = 40
    max_tokens: int = 2_000_000
    max_seconds: float = 1800
    max_cost_usd: float = 5.0
    cell_timeout: float = DEFAULT_CELL_TIMEOUT
    output_chars: int = 4000  # what goes back to the model per tool result
    max_cells: int = 60


class EventSink(Protocol):
    async def emit(self, type: str, data: dict[str, Any]) -> None: ...


@dataclass
class GenerationOutcome:
    status: GenerationStatus
    cells: list[dict[str, Any]]
    notebook: NotebookNode
    usage: Usage
    turns: int
    message: str | None = None
    verification: dict[str, Any] | None = None  # the last fresh-kernel check (verify.Verification)
    # Why a run failed or kept nothing, and the buttons for what to do (agent/diagnosis.py).
    cause: str | None = None
    next_steps: list[dict[str, Any]] = field(default_factory=list)
