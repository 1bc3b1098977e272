"""The recipe templates Cookbook ships, and what each complexity level asks of a notebook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RecipeInput:
    """One input the front end asks for. `type`: text, string, choice, hf_model or path."""

    name: str
    type: str
    required: bool = False
    choices: tuple[str, ...] | None = None
    default: str | None = None
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        if self.choices is not None:
            out["choices"] = list(self.choices)
        if self.default is not None:
            out["default"] = self.default
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class Recipe:
    """A template: what the front end shows, and `instructions`, what the agent is asked to build."""

    id: str
    title: str
    description: str
    inputs: tuple[RecipeInput, ...]
    instructions: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "inputs": [i.to_dict() for i in self.inputs],
        }


_PROMPT = RecipeInput(
    "prompt", "text", required=True, description="What you want the notebook to do, in your own words."
)
_TOPIC = RecipeInput("topic", "string", description="A focus for the notebook, e.g. a task or a domain.")
_COMPLEXITY = RecipeInput(
    "complexity",
    "choice",
    choices=("basic", "intermediate", "advanced"),
    default="basic",
    description="How far the notebook goes.",
)
_MODEL = RecipeInput("hf_model_id", "hf_model", description="The Hugging Face model the notebook uses.")

QUICKSTART = Recipe(
    id="quickstart",
    title="Quickstart",
    description="The shortest path from nothing to a first working result with this repository and model.",
    inputs=(_PROMPT, _TOPIC, _COMPLEXITY, _MODEL),
    instructions=(
        "Template: quickstart. Get the reader from an empty kernel to one convincing, working result "
        "as directly as possible: install what is missing, load the model or library, run it on a small "
        "example input that fits the request, and show the output. Prefer the repository's own "
        "documented entry points over re-implementing them. Each step gets a short markdown cell "
        "saying what it does and why."
    ),
)

DEEP_DIVE = Recipe(
    id="deep_dive",
    title="Deep dive",
    description="A guided tour that starts simple and builds up, section by section, to advanced use.",
    inputs=(_PROMPT, _TOPIC, _COMPLEXITY, _MODEL),
    instructions=(
        "Template: deep_dive. Write a progressive tutorial in sections, each building on the last: "
        "(1) setup and a minimal first run; (2) the main knobs of the API, shown by changing one at a "
        "time and comparing outputs; (3) a realistic task from the request end to end; (4) as far as "
        "the complexity level allows, what lies beyond: internals, extension points, pitfalls. Open "
        "each section with a markdown heading and a sentence on what the reader learns in it. Read "
        "the repository's examples and source to find the features worth teaching."
    ),
)

AB_ARENA = Recipe(
    id="ab_arena",
    title="A/B arena",
    description="Run two models, or two settings of one model, side by side on the same inputs and compare.",
    inputs=(
        _PROMPT,
        _TOPIC,
        _COMPLEXITY,
        _MODEL,
        RecipeInput(
            "compare_with",
            "string",
            description=(
                "What to compare against: a second model id, or a setting (e.g. 'temperature 0.2 vs 1.0')."
            ),
        ),
    ),
    instructions=(
        "Template: ab_arena. Compare two contenders on identical inputs. Contender A is the selected "
        "model with its defaults. Contender B is what the user names to compare with (a second model "
        "or a different setting); if they named nothing, pick one meaningful alternative the "
        "repository supports and say why. Define the shared inputs once, run A and B through the same "
        "helper function, then show the results side by side (a table or aligned printout) together "
        "with simple measurable differences (time taken, output length, scores where they apply). "
        "End with a short markdown verdict grounded in what the cells showed, not in assumptions."
    ),
)

USE_MY_DATA = Recipe(
    id="use_my_data",
    title="Use my data",
    description="Apply the model to your own data file or folder: load, prepare, run and inspect results.",
    inputs=(
        _PROMPT,
        RecipeInput(
            "data_path",
            "path",
            description="Your data file or folder, on the server (the topic field works too).",
        ),
        _TOPIC,
        _COMPLEXITY,
        _MODEL,
    ),
    instructions=(
        "Template: use_my_data. The user's data lives at DATA_PATH (given below). First look at it: "
        "check that the path exists, list a folder's files or read the head of a file, and print "
        "its shape, columns or a few records, choosing the loader from the file type. Then convert "
        "it into the input format the model expects, run the model on a small sample first, then on "
        "more as the complexity level allows, and save or display the results next to the inputs. "
        "Never modify or delete the user's data; write derived files to a new path."
    ),
)

TEMPLATES: tuple[Recipe, ...] = (QUICKSTART, DEEP_DIVE, AB_ARENA, USE_MY_DATA)

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
