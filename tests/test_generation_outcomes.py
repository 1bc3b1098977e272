"""What a generation tells the user, over REST with the offline provider and real kernels: failures
that name their cause and the next step, progress about examples (not a model), cells named by
what they do with their source in the metadata, history entries, and clean downloads."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime

import nbformat
import pytest
from tornado.httpclient import HTTPClientError

from tests.fakes.repos import make_local_repo

MISSING_README = """# needs-missing

Needs a package this environment does not have.

## Install

```bash
pip install zzz-missing-pkg
```

## Use

```python
import zzz_missing_pkg
zzz_missing_pkg.run()
```

## More

```python
from zzz_missing_pkg import thing
print(thing)
```
"""


async def _json(jp_fetch, *parts, **kw):
    return json.loads((await jp_fetch("cookbook", *parts, **kw)).body)


async def _ingest(jp_fetch, source: str, *, trust: bool) -> str:
    body = json.dumps({"source": source, "trust": trust})
    return (await _json(jp_fetch, "repos", method="POST", body=body))["id"]


async def _start(jp_fetch, body: dict) -> str:
    resp = await jp_fetch("cookbook", "generations", method="POST", body=json.dumps(body))
    assert resp.code == 202
    return json.loads(resp.body)["id"]


async def _run(jp_fetch, gen_id: str, answer=None) -> list[dict]:
    """The generation's events to its end; `answer(approval)` answers each approval asked."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 150
    events, after = [], 0
    while True:
        assert loop.time() < deadline, "the generation did not finish in time"
        page = await _json(jp_fetch, "generations", gen_id, "events", params={"after": after, "timeout": 5})
        for event in page["events"]:
            events.append(event)
            if event["type"] == "approval_required" and answer is not None:
                approval = event["data"]
                await jp_fetch(
                    "cookbook",
                    "generations",
                    gen_id,
                    "approvals",
                    approval["approval_id"],
                    method="POST",
                    body=json.dumps({"approved": answer(approval)}),
                )
        if page["events"]:
            after = page["events"][-1]["seq"]
        if page["done"]:
            return events


def _of(events: list[dict], type_: str) -> list[dict]:
    return [e["data"] for e in events if e["type"] == type_]


# -- failures that say what to do --------------------------------------------------------------------


async def test_a_missing_package_whose_install_was_declined_is_the_cause_with_the_next_steps(
    jp_fetch, jp_root_dir
):
    # A model provider is configured, so the failed offline run can offer it.
    key = json.dumps({"value": "sk-ant-test-" + "k" * 30})
    await jp_fetch("cookbook", "secrets", "ANTHROPIC_API_KEY", method="PUT", body=key)
    repo = jp_root_dir / "needs-missing"
    repo.mkdir()
    (repo / "README.md").write_text(MISSING_README)
    (repo / "requirements.txt").write_text("zzz-missing-pkg>=1\n")
    repo_id = await _ingest(jp_fetch, "needs-missing", trust=True)
    body = {"repo_id": repo_id, "prompt": "use it", "provider": "offline", "approval": "risky"}
    gen_id = await _start(jp_fetch, body)
    events = await _run(jp_fetch, gen_id, answer=lambda approval: False)

    # The approval card named exactly what would be installed: the install cell, then each
    # snippet repaired with an install of the module it missed.
    install, *repaired = _of(events, "approval_required")
    assert install["packages"] == ["zzz-missing-pkg>=1"]
    assert install["details"][0] == "installs zzz-missing-pkg>=1 (only those not installed yet)"
    assert install["title"] == "Install the requirements"
    assert [a["title"] for a in repaired] == ["Use", "More"]
    assert all(a["details"] == ["installs zzz-missing-pkg"] for a in repaired)

    [failed] = _of(events, "failed")
    assert failed["code"] == "nothing_validated"
    expected = (
        "The examples need zzz-missing-pkg, which is not installed, and the three installs were declined."
    )
    assert failed["cause"] == expected
    assert "2 were not run without your approval" in failed["message"]
    assert failed["next_steps"] == [
        {
            "action": "install_and_retry",
            "label": "Install zzz-missing-pkg and retry",
            "packages": ["zzz-missing-pkg"],
        },
        {"action": "show_attempts", "label": "Show the failed attempts", "count": 3},
        {"action": "try_provider", "label": "Try with Anthropic", "provider": "anthropic"},
    ]
    record = await _json(jp_fetch, "generations", gen_id)
    assert record["cause"] == expected and record["next_steps"] == failed["next_steps"]
    assert record["message"] == failed["message"]
    [listed] = (await _json(jp_fetch, "generations"))["generations"]
    assert listed["cause"] == expected and listed["cells_count"] == 0


async def test_untrusted_repository_code_that_was_declined_offers_to_trust_the_repository(
    jp_fetch, jp_root_dir
):
    make_local_repo(jp_root_dir)
    repo_id = await _ingest(jp_fetch, "tiny-model", trust=False)
    gen_id = await _start(jp_fetch, {"repo_id": repo_id, "prompt": "greet", "provider": "offline"})
    events = await _run(jp_fetch, gen_id, answer=lambda approval: False)
    [failed] = _of(events, "failed")
    assert "did not run because the repository is not trusted" in failed["cause"]
    assert failed["next_steps"][0] == {
        "action": "trust_repository",
        "label": "Trust this repository and retry",
        "repo_id": repo_id,
    }
    assert "try_provider" not in [s["action"] for s in failed["next_steps"]]  # no model provider here


# -- progress, titles and where each cell comes from ------------------------------------------------


async def _offline_run(jp_fetch, jp_root_dir) -> tuple[str, list[dict]]:
    make_local_repo(jp_root_dir)
    repo_id = await _ingest(jp_fetch, "tiny-model", trust=True)
    gen_id = await _start(jp_fetch, {"repo_id": repo_id, "prompt": "greet someone", "provider": "offline"})
    return gen_id, await _run(jp_fetch, gen_id)


async def test_offline_progress_speaks_of_examples_not_a_model(jp_fetch, jp_root_dir):
    gen_id, events = await _offline_run(jp_fetch, jp_root_dir)
    statuses = [s["message"] for s in _of(events, "status")]
    assert "Trying the next example" in statuses
    assert not any("model (turn" in m for m in statuses)
    [started] = _of(events, "started")
    assert started["uses_model"] is False and started["parent_id"] is None
    providers = {p["name"]: p for p in (await _json(jp_fetch, "status"))["providers"]}
    assert providers["offline"]["uses_model"] is False
    assert providers["anthropic"]["uses_model"] is True
    [finished] = _of(events, "finished")
    assert 0 < finished["usage"]["seconds"] < 150  # real elapsed time, not 0
    assert not any(re.search(r"\bc\d+\b", t["text"]) for t in _of(events, "llm_text"))


async def test_cells_are_named_by_what_they_do_and_say_where_they_come_from(jp_fetch, jp_root_dir):
    _, events = await _offline_run(jp_fetch, jp_root_dir)
    for event in _of(events, "cell_created") + _of(events, "cell_validated"):
        assert event["title"] and not re.fullmatch(r"c\d+", event["title"])
    kept = {e["cell_id"]: e for e in _of(events, "cell_validated")}
    by_source = {e["cell"]["source"]: e for e in kept.values()}
    greet = by_source['from tinylib import greet\nprint(greet("cookbook"))']
    meta = greet["cell"]["metadata"]["cookbook"]
    assert greet["title"] == meta["title"] == "Quick start"
    assert (meta["origin"], meta["origin_detail"]) == ("readme", "README.md § Quick start")
    assert (meta["provider"], meta["model"]) == ("offline", "repository-examples")
    assert datetime.fromisoformat(meta["generated_at"]).tzinfo is not None
    example = next(e for s, e in by_source.items() if "statistics.mean" in s)
    assert example["cell"]["metadata"]["cookbook"]["origin"] == "example"
    assert example["cell"]["metadata"]["cookbook"]["origin_detail"] == "examples/summarise.py"
    headings = [e for e in kept.values() if e["cell"]["cell_type"] == "markdown"]
    assert headings and all(h["cell"]["metadata"]["cookbook"]["origin"] == "cookbook" for h in headings)
    setup = next(e for e in kept.values() if e["title"] == "Work from the repository")
    assert setup["cell"]["metadata"]["cookbook"]["origin"] == "cookbook"


# -- history and downloads ---------------------------------------------------------------------------


async def test_history_entries_show_repository_template_time_status_and_cell_count(jp_fetch, jp_root_dir):
    gen_id, _ = await _offline_run(jp_fetch, jp_root_dir)
    [entry] = (await _json(jp_fetch, "generations"))["generations"]
    detail = await _json(jp_fetch, "generations", gen_id)
    assert entry["repo_name"] == "tiny-model" and entry["template"] == "quickstart"
    assert entry["status"] == "finished" and entry["created_at"] == detail["created_at"]
    assert entry["cells_count"] == len(detail["cells"]) > 0
    assert entry["parent_id"] is None and detail["children"] == []


async def test_a_generation_from_a_source_is_listed_under_its_repository(jp_fetch, jp_root_dir):
    make_local_repo(jp_root_dir)
    gen_id = await _start(
        jp_fetch, {"source": "tiny-model", "prompt": "p", "provider": "offline", "trust": True}
    )
    await _run(jp_fetch, gen_id)
    [entry] = (await _json(jp_fetch, "generations"))["generations"]
    assert entry["repo_name"] == "tiny-model" and entry["cells_count"] > 0


async def test_the_download_is_named_after_the_repository_template_and_date(jp_fetch, jp_root_dir):
    gen_id, _ = await _offline_run(jp_fetch, jp_root_dir)
    created = (await _json(jp_fetch, "generations", gen_id))["created_at"]
    resp = await jp_fetch("cookbook", "generations", gen_id, "notebook")
    day = datetime.fromtimestamp(created).strftime("%Y-%m-%d")
    assert resp.headers["Content-Disposition"] == f'attachment; filename="tiny-model-quickstart-{day}.ipynb"'


async def test_a_download_has_no_execution_counts_and_can_leave_the_outputs_out(jp_fetch, jp_root_dir):
    gen_id, _ = await _offline_run(jp_fetch, jp_root_dir)
    kept = nbformat.reads((await jp_fetch("cookbook", "generations", gen_id, "notebook")).body.decode(), 4)
    code = [c for c in kept.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is None for c in code)
    assert all(o.get("execution_count") is None for c in code for o in c.outputs)
    assert any(c.outputs for c in code)
    assert all(c.metadata["cookbook"]["outputs_from"] == "original_run" for c in code if c.outputs)
    nbformat.validate(kept)

    resp = await jp_fetch("cookbook", "generations", gen_id, "notebook", params={"outputs": "clear"})
    cleared = nbformat.reads(resp.body.decode(), 4)
    assert [c.source for c in cleared.cells] == [c.source for c in kept.cells]
    assert all(c.outputs == [] and c.execution_count is None for c in cleared.cells if c.cell_type == "code")
    nbformat.validate(cleared)

    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "generations", gen_id, "notebook", params={"outputs": "everything"})
    assert err.value.code == 400
    assert json.loads(err.value.response.body)["code"] == "bad_request"
