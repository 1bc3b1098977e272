"""The offline provider works from the request: it ranks the repository's snippets by relevance to
the prompt (BM25), gives each its own title, and runs a snippet only after the ones it builds on."""

from __future__ import annotations

import asyncio

import pytest

from cookbook_ext.agent.loop import Budgets, GenerationRequest, run_generation
from cookbook_ext.agent.providers.offline import OfflineProvider, plan_candidates
from cookbook_ext.agent.providers.snippets import bm25_scores, names, words
from cookbook_ext.agent.tools import RepoTrust
from cookbook_ext.ingest import IngestOptions, ingest
from cookbook_ext.kernel import KernelExecutor
from tests.fakes.kernels import running_kernel
from tests.fakes.scripted_provider import RecordingSink

# A small stand-in for sentence-transformers: bag-of-words vectors and cosine similarity.
PACKAGE = '''\
"""Sentence embeddings, the small way: bag-of-words vectors compared by cosine similarity."""
import math
import re


class SentenceTransformer:
    def __init__(self, name):
        self.name = name

    def encode(self, sentences):
        return [_vector(s) for s in sentences]

    def similarity(self, a, b):
        return [[round(_cosine(x, y), 3) for y in b] for x in a]


def semantic_search(query_embeddings, corpus_embeddings, top_k=1):
    out = []
    for query in query_embeddings:
        scores = [(_cosine(query, c), i) for i, c in enumerate(corpus_embeddings)]
        scores.sort(reverse=True)
        out.append([{"corpus_id": i, "score": round(s, 3)} for s, i in scores[:top_k]])
    return out


def _vector(text):
    vec = {}
    for word in re.findall(r"[a-z]+", text.lower()):
        vec[word] = vec.get(word, 0) + 1
    return vec


def _cosine(x, y):
    dot = sum(v * y.get(k, 0) for k, v in x.items())
    norm = math.sqrt(sum(v * v for v in x.values())) * math.sqrt(sum(v * v for v in y.values()))
    return dot / norm if norm else 0.0
'''

README = """\
# MiniLM demo

Compute embeddings for sentences and paragraphs.

## Installation

```bash
pip install minilm-demo
```

## Getting Started

### Embedding Models

First download a pretrained embedding model.

```python
from minilm import SentenceTransformer

model = SentenceTransformer("all-MiniLM-L6-v2")
```

Then provide some texts to the model.

```python
sentences = [
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium.",
]
embeddings = model.encode(sentences)
print(len(embeddings), "embeddings")
```

And that's already it. We now have one embedding for each text. We can use these to compute similarities.

```python
similarities = model.similarity(embeddings, embeddings)
print(similarities[0])
```
"""

SEMANTIC_SEARCH = '''\
"""
This is a simple application for sentence embeddings: semantic search

We have a corpus with various sentences. Then, for a given query sentence,
we want to find the most similar sentence in this corpus.
"""

from minilm import SentenceTransformer, semantic_search

embedder = SentenceTransformer("all-MiniLM-L6-v2")
corpus = [
    "A man is eating food.",
    "A man is riding a horse.",
    "The girl is carrying a baby.",
    "Two men pushed carts through the woods.",
    "A cheetah is running behind its prey.",
]
query = "Who is riding the horse?"
hits = semantic_search(embedder.encode([query]), embedder.encode(corpus), top_k=1)
print("Best match:", corpus[hits[0][0]["corpus_id"]])
'''

PROMPT = "semantic search: find which of five sentences best matches a question"


def _ingest(root, files: dict[str, str]) -> dict:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    options = IngestOptions(root_dir=root.parent, cache_dir=root.parent / f"cache-{root.name}")
    return ingest(str(root), options=options).to_dict()


@pytest.fixture(scope="module")
def minilm(tmp_path_factory) -> dict:
    return _ingest(
        tmp_path_factory.mktemp("ranking") / "minilm",
        {
            "README.md": README,
            "minilm/__init__.py": PACKAGE,
            "examples/applications/semantic-search/semantic_search.py": SEMANTIC_SEARCH,
        },
    )


def _snippets(plan):
    return [c for c in plan if not c.essential]


# -- planning --------------------------------------------------------------------------------------


def test_the_example_that_fits_the_request_comes_first(minilm):
    plan = _snippets(plan_candidates(GenerationRequest(prompt=PROMPT), minilm, None))
    assert plan[0].path == "examples/applications/semantic-search/semantic_search.py"
    assert plan[0].title == "Example: This is a simple application for sentence embeddings: semantic search"
    assert [c.kind for c in plan] == ["script", "readme", "readme", "readme"]


def test_without_a_matching_word_the_recipes_order_stands(minilm):
    plan = _snippets(plan_candidates(GenerationRequest(prompt="zebra crossing"), minilm, None))
    assert [c.kind for c in plan] == ["readme", "readme", "readme", "script"]


def test_the_topic_counts_too(minilm):
    request = GenerationRequest(prompt="zebra crossing", topic="semantic search")
    assert _snippets(plan_candidates(request, minilm, None))[0].kind == "script"


def test_snippets_under_one_heading_get_the_sentence_that_introduces_each(minilm):
    readme = [
        c for c in plan_candidates(GenerationRequest(prompt=PROMPT), minilm, None) if c.kind == "readme"
    ]
    assert [c.title for c in readme] == [
        "First download a pretrained embedding model",
        "Then provide some texts to the model",
        "We can use these to compute similarities",
    ]
    assert all("“Embedding Models” section" in c.explanation for c in readme)


def test_no_two_planned_cells_share_a_title(minilm):
    model = {
        "id": "example/minilm",
        "card": {"usage": "```python\nprint('one')\n```\n\n```python\nprint('two')\n```\n"},
    }
    titles = [c.title for c in plan_candidates(GenerationRequest(prompt=PROMPT), minilm, model)]
    assert len(titles) == len(set(titles))
    assert "Usage from the model card: print" not in titles  # a call to print says nothing


def test_repeated_headings_without_prose_fall_back_to_the_call_each_snippet_ends_on():
    blocks = [
        {"lang": "python", "code": "import json\nrows = json.loads('[1, 2]')", "heading": "Usage"},
        {"lang": "python", "code": "total = sum(rows)\nprint(total)", "heading": "Usage"},
        {"lang": "python", "code": "import statistics\nstatistics.mean(rows)", "heading": "Usage"},
    ]
    repo = {"name": "x", "readmes": [{"path": "README.md", "code_blocks": blocks}]}
    titles = [c.title for c in _snippets(plan_candidates(GenerationRequest(prompt="p"), repo, None))]
    assert len(set(titles)) == 3
    assert titles[0] == "Usage: json.loads" and titles[2] == "Usage: statistics.mean"


def test_a_snippet_comes_right_after_the_snippets_whose_names_it_uses(minilm):
    # Only the last README block is about similarities; the two it builds on come along, in order.
    plan = _snippets(plan_candidates(GenerationRequest(prompt="compute similarities"), minilm, None))
    readme = [c for c in plan if c.kind == "readme"]
    assert plan[:3] == readme
    assert [
        "model =" in readme[0].code,
        "sentences =" in readme[1].code,
        "similarity(" in readme[2].code,
    ] == [
        True,
        True,
        True,
    ]
    assert readme[1].needs == (readme[0].key,)
    assert readme[2].needs == (readme[0].key, readme[1].key)


def test_a_snippet_whose_prerequisite_is_left_out_is_left_out_too():
    blocks = [
        {"lang": "python", "code": "model = make()\nmodel.fit(data)", "heading": "Train"},
        {"lang": "python", "code": "print(model.predict([1]))", "heading": "Predict"},
        {"lang": "python", "code": "print('unrelated')", "heading": "Other"},
    ]
    repo = {"name": "x", "readmes": [{"path": "README.md", "code_blocks": blocks}]}
    basic = [c.title for c in _snippets(plan_candidates(GenerationRequest(prompt="p"), repo, None))]
    assert basic == ["Other"]  # training is left out at the basic level, and so is what uses it


# -- the pieces ------------------------------------------------------------------------------------


def test_names_a_snippet_defines_and_uses():
    first = names("from extractors import Extractor\nextractor = Extractor()\n")
    second = names("result = extractor.run(doc)\nfor word in result:\n    print(word, len(word))\n")
    assert first.defines == {"Extractor", "extractor"} and first.uses == set()
    assert second.uses == {"extractor", "doc"}  # builtins and its own loop variable are not
    assert names("%pip install x\nimport x\nx.go(y)").uses == {"y"}  # magics do not hide the rest


def test_bm25_a_word_most_candidates_share_tells_nothing_apart():
    docs = [words("summarise text"), words("summarise lists"), words("summarise numbers"), words("plot")]
    assert bm25_scores(docs, words("summarise")) == [0.0, 0.0, 0.0, 0.0]
    scores = bm25_scores(docs, words("summarise numbers"))
    assert scores[2] > 0 and scores[0] == scores[1] == scores[3] == 0


def test_bm25_with_two_candidates_the_matching_one_wins():
    scores = bm25_scores([words("semantic search over a corpus"), words("embedding models")], words("search"))
    assert scores[0] > 0 == scores[1]


def test_words_meet_across_inflections():
    assert words("sentences matches embeddings summarize") == words("sentence match embedding summarise")


# -- with a real kernel ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel():
    with running_kernel() as harness:
        yield harness


def _generate(kernel, request, repo, model=None):
    sink = RecordingSink()
    executor = KernelExecutor(kernel.km, cell_timeout=60)

    async def scenario():
        try:
            return await run_generation(
                generation_id="ranking1",
                request=request,
                repo=repo,
                model=model,
                provider=OfflineProvider(),
                executor=executor,
                sink=sink,
                budgets=Budgets(),
                cancel=asyncio.Event(),
                trust=RepoTrust(trusted=True),
            )
        finally:
            await executor.close()

    return kernel.run(scenario(), timeout=300), sink


def test_the_fitting_example_runs_first_and_the_readme_snippets_in_their_order(kernel, minilm):
    outcome, sink = _generate(kernel, GenerationRequest(prompt=PROMPT, complexity="intermediate"), minilm)
    assert outcome.status == "finished"
    code = [c for c in outcome.cells if c["cell_type"] == "code" and "REPO_DIR" not in c["source"]]
    assert "semantic_search(" in code[0]["source"]
    assert code[0]["outputs"][0]["text"] == "Best match: A man is riding a horse.\n"
    assert ["model = " in code[1]["source"], "sentences = " in code[2]["source"]] == [True, True]
    assert "similarity(" in code[3]["source"]
    headings = [c["source"].splitlines()[0] for c in outcome.cells if c["cell_type"] == "markdown"]
    assert len(headings) == len(set(headings))


def test_a_snippet_is_not_tried_when_the_one_it_builds_on_failed(kernel, tmp_path):
    readme = (
        "# Extract\n\n## Usage\n\nMake an extractor.\n\n"
        "```python\nfrom not_a_real_extractor_pkg import Extractor\nextractor = Extractor()\n```\n\n"
        "Then run it on a document.\n\n```python\nprint(extractor.run('a document'))\n```\n\n"
        "## Something else\n\n```python\nprint('independent')\n```\n"
    )
    repo = _ingest(tmp_path / "extract", {"README.md": readme})
    outcome, sink = _generate(kernel, GenerationRequest(prompt="extract"), repo)
    assert outcome.status == "finished"
    created = [e["source"] for e in sink.of("cell_created") if e["cell_type"] == "code"]
    assert not any("extractor.run" in source for source in created)  # never tried alone
    assert any("independent" in c["source"] for c in outcome.cells)
    notes = " ".join(e["text"] for e in sink.of("llm_text"))
    assert "Skipping Then run it on a document: it builds on Make an extractor, which did not run." in notes


def test_progress_notes_speak_of_snippets_not_of_a_model(kernel, minilm):
    _, sink = _generate(kernel, GenerationRequest(prompt=PROMPT), minilm)
    notes = [e["text"] for e in sink.of("llm_text")]
    assert any(n.startswith("Trying the example script: Example: This is a simple") for n in notes)
    assert any("Running the README snippet in the kernel" in n for n in notes)
    titles = [c.title for c in plan_candidates(GenerationRequest(prompt=PROMPT), minilm, None)]
    for note in notes:
        for title in titles:  # the repository's own words may name a model; Cookbook's do not
            note = note.replace(title, "")
        assert "model" not in note.lower()
