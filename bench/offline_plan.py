"""Offline planning benchmark: does the snippet that fits the request come first, and what does
ranking cost?

A synthetic repository: a README of `--sections` sections with three define-then-use blocks each
(the same heading three times, as sentence-transformers' README has), and one example script per
task in TASKS (a docstring, a path and identifiers of its own), all sharing the library's names.
For each task, the prompt a user would type; the baseline, measured in the same run, is the
recipe's order without ranking (README blocks, then the examples), which is what the offline
provider did before.

Reported:
  mrr_ranked / mrr_recipe_order   mean reciprocal rank of the fitting example among the snippets
  hit_at_1_ranked                 share of prompts whose example is tried first
  plan_over_parse                 median plan_candidates time / median time to ast.parse every
                                  snippet once (the least any plan that reads the code pays)

    .venv/bin/python bench/offline_plan.py [--sections 30] [--runs 5]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cookbook_ext.agent.loop import GenerationRequest  # noqa: E402
from cookbook_ext.agent.providers.offline import plan_candidates  # noqa: E402
from cookbook_ext.agent.providers.snippets import parse_cell  # noqa: E402
from cookbook_ext.markdown import code_blocks  # noqa: E402

# task id -> (the user's prompt, the example's docstring, identifiers it uses)
TASKS = {
    "semantic_search": (
        "semantic search: find which of five sentences best matches a question",
        "Semantic search: for a query, the most similar sentence of a corpus.",
        "corpus query hits semantic_search top_k",
    ),
    "clustering": (
        "group my sentences into clusters of similar meaning",
        "Clustering: group sentences by meaning with k-means.",
        "kmeans cluster_assignment num_clusters",
    ),
    "paraphrase_mining": (
        "find paraphrases in a list of questions",
        "Paraphrase mining: pairs of sentences that say the same.",
        "paraphrase_mining pairs score",
    ),
    "image_search": (
        "search images with a text query",
        "Image search: embed pictures and text in one space.",
        "image_paths img_emb text_emb",
    ),
    "translation_mining": (
        "find translated sentence pairs across two languages",
        "Bitext mining: translations between two languages.",
        "source_sentences target_sentences bitext",
    ),
    "classification": (
        "classify product reviews as positive or negative",
        "Classification: a logistic regression on embeddings.",
        "LogisticRegression labels predict reviews",
    ),
    "deduplication": (
        "remove near duplicate documents",
        "Deduplication: drop documents that are near copies.",
        "duplicates threshold documents",
    ),
    "reranking": (
        "rerank search results with a cross encoder",
        "Retrieve and re-rank: a cross-encoder scores the hits.",
        "CrossEncoder rerank passages",
    ),
}


def make_repo(sections: int) -> dict:
    readme = ["# Library\n"]
    for s in range(sections):
        readme.append(f"## Feature {s}\n\n### Embedding Models\n\nLoad a model for feature {s}.\n")
        readme.append(f'```python\nfrom library import Model\n\nmodel_{s} = Model("name-{s}")\n```\n')
        readme.append(f"Then encode some texts.\n\n```python\nvectors_{s} = model_{s}.encode(texts)\n```\n")
        readme.append(
            f"And compare them.\n\n```python\nprint(model_{s}.similarity(vectors_{s}, vectors_{s}))\n```\n"
        )
    text = "\n".join(readme)
    blocks = [b.to_dict() for b in code_blocks(text)]
    examples = []
    for task, (_prompt, doc, names) in TASKS.items():
        body = "\n".join(f"{name} = model.encode(texts)" for name in names.split())
        code = (
            f'"""{doc}"""\nfrom library import Model\n\nmodel = Model("name")\ntexts = ["a", "b"]\n{body}\n'
        )
        examples.append(
            {"path": f"examples/{task}/{task}.py", "title": doc.rstrip("."), "code": code, "kind": "script"}
        )
    return {
        "name": "library",
        "readmes": [{"path": "README.md", "text": text, "code_blocks": blocks}],
        "examples": examples,
    }


def reciprocal_rank(snippets: list, task: str) -> float:
    for rank, candidate in enumerate(snippets, 1):
        if (candidate.path or "").startswith(f"examples/{task}/"):
            return 1 / rank
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    repo = make_repo(args.sections)

    ranked_rr, recipe_rr, plan_s, parse_s = [], [], [], []
    for task, (prompt, _doc, _names) in TASKS.items():
        request = GenerationRequest(prompt=prompt, complexity="advanced")
        snippets = [c for c in plan_candidates(request, repo, None) if not c.essential]
        ranked_rr.append(reciprocal_rank(snippets, task))
        # The recipe's order, as before ranking: every README block, then the examples.
        recipe = sorted(snippets, key=lambda c: (c.kind != "readme", c.key))
        recipe_rr.append(reciprocal_rank(recipe, task))
    codes = [c.code for c in plan_candidates(GenerationRequest(prompt="p"), repo, None) if c.code]
    for _ in range(args.runs):
        started = time.perf_counter()
        for prompt, _doc, _names in TASKS.values():
            parse_cell.cache_clear()  # one plan per generation: nothing parsed before
            plan_candidates(GenerationRequest(prompt=prompt), repo, None)
        plan_s.append((time.perf_counter() - started) / len(TASKS))
        started = time.perf_counter()
        for code in codes:
            ast.parse(code)
        parse_s.append(time.perf_counter() - started)

    print(
        json.dumps(
            {
                "snippets": len(codes),
                "prompts": len(TASKS),
                "mrr_ranked": round(statistics.mean(ranked_rr), 3),
                "mrr_recipe_order": round(statistics.mean(recipe_rr), 3),
                "hit_at_1_ranked": round(sum(rr == 1 for rr in ranked_rr) / len(ranked_rr), 3),
                "plan_ms": round(statistics.median(plan_s) * 1000, 2),
                "parse_ms": round(statistics.median(parse_s) * 1000, 2),
                "plan_over_parse": round(statistics.median(plan_s) / statistics.median(parse_s), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
