"""What each complexity level asks of a notebook, whatever the recipe: Cookbook's own words."""

from __future__ import annotations

from ..errors import BadRequest
from .format import COMPLEXITIES

COMPLEXITY_GUIDANCE: dict[str, str] = {
    "basic": (
        "Complexity: basic. Keep it short (about 3 to 6 code cells). Use defaults and the simplest "
        "documented API; one small example input; no training, fine-tuning or long downloads beyond "
        "the model itself; explain in plain words."
    ),
    "intermediate": (
        "Complexity: intermediate. Expose the main parameters and show their effect; process inputs "
        "in batches; add a small evaluation (a metric, a held-out sample, or a before/after "
        "comparison); handle the common failure (e.g. missing GPU) gracefully. About 6 to 12 code "
        "cells. Light fine-tuning only if the request asks for it, on a tiny subset."
    ),
    "advanced": (
        "Complexity: advanced. Go beyond the documented happy path: measure performance (latency, "
        "throughput, memory) and act on it (batching, precision, device placement), build a custom "
        "pipeline or extend a component from the repository's source, and test edge cases (empty, "
        "very long, malformed inputs). Up to about 20 code cells; keep each one focused and fast."
    ),
}
assert tuple(COMPLEXITY_GUIDANCE) == COMPLEXITIES  # noqa: S101 - one list of levels


def complexity_guidance(level: str) -> str:
    """What a complexity level asks for; BadRequest names the valid levels."""
    try:
        return COMPLEXITY_GUIDANCE[level]
    except KeyError:
        raise BadRequest(
            f"Unknown complexity {level!r}; choose one of {', '.join(COMPLEXITIES)}.",
            code="unknown_complexity",
        ) from None
