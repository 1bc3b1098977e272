"""Issue 5 in the engine: secrets as kernel environment variables, hardcoded keys, approvals and
masking, with a scripted model and a real kernel."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import string

import pytest

from cookbook_ext.agent.loop import Budgets, GenerationRequest, run_generation
from cookbook_ext.agent.tools import parse_execution_result
from cookbook_ext.kernel import ExecutionResult, KernelExecutor
from tests.fakes.kernels import running_kernel
from tests.fakes.scripted_provider import RecordingSink, ScriptedProvider, call, tool_results, turn

_ALNUM = string.ascii_letters + string.digits
HF = "hf_" + "".join(secrets.choice(_ALNUM) for _ in range(34))
ANT = "sk-ant-api03-" + "".join(secrets.choice(_ALNUM) for _ in range(40))
SECRET_ENV = {"HF_TOKEN": HF, "ANTHROPIC_API_KEY": ANT}
SHELL_CELL = "import subprocess\nsubprocess.run(['true'], check=True)\nprint('ran')"


@pytest.fixture(scope="module")
def kernel():
    with running_kernel() as harness:
        yield harness


@pytest.fixture(scope="module")
def executor(kernel):
    ex = KernelExecutor(kernel.km)
    yield ex
    kernel.run(ex.close())


def generate(kernel, executor, script, *, budgets=None, cancel_after=None, repo=None, **options):
    provider = script if isinstance(script, ScriptedProvider) else ScriptedProvider(script)
    sink = RecordingSink()

    async def scenario():
        cancel = asyncio.Event()
        if cancel_after is not None:
            asyncio.get_running_loop().call_later(cancel_after, cancel.set)
        return await run_generation(
            generation_id="guard1",
            request=GenerationRequest(prompt="make a cookbook"),
            repo=repo,
            model=None,
            provider=provider,
            executor=executor,
            sink=sink,
            budgets=budgets or Budgets(cell_timeout=30),
            cancel=cancel,
            **options,
        )

    outcome = kernel.run(scenario())
    return outcome, sink, provider


def everything(outcome, sink, provider) -> str:
    """All the model received, every event, and the notebook, as one text."""
    sent = [
        json.dumps(provider.calls, default=str),
        json.dumps([(s.instructions, s.context) for s in provider.systems]),
    ]
    return "\n".join([*sent, json.dumps(sink.events, default=str), json.dumps(outcome.notebook)])


def result_of(provider, turn_index: int, position: int = 0) -> dict:
    """The tool_result block at `position` that the model received before turn `turn_index`."""
    return list(tool_results(provider.calls[turn_index][-1]).values())[position]


def assert_no_secret(text: str) -> None:
    for value in SECRET_ENV.values():
        assert value not in text
        for start in range(0, len(value) - 12, 4):  # nor a recognisable piece of it
            assert value[start : start + 12] not in text


# -- secrets reach the kernel as environment variables --------------------------------------------


def test_secrets_reach_the_kernel_as_environment_variables_and_the_model_only_sees_names(kernel, executor):
    digest = hashlib.sha256(HF.encode()).hexdigest()
    code = (
        "import hashlib, os\n"
        f"print(hashlib.sha256(os.environ['HF_TOKEN'].encode()).hexdigest() == {digest!r})\n"
        "print(os.environ['ANTHROPIC_API_KEY'].startswith('sk-ant-'))"
    )
    outcome, sink, provider = generate(
        kernel,
        executor,
        [
            turn(call("create_cell", code=code), call("execute_cell", cell_id="c1")),
            turn(call("finish", summary="ok")),
        ],
        secret_env=SECRET_ENV,
    )
    assert outcome.status == "finished", outcome.message
    assert outcome.cells[0]["outputs"][0]["text"] == "True\nTrue\n"
    # No cell was used to set them: the first cell event is the model's own cell.
    assert [d["cell_id"] for d in sink.of("cell_created")] == ["c1"]
    assert sink.types.index("status") < sink.types.index("cell_created")
    [kernel_status] = [s for s in sink.of("status") if s["phase"] == "kernel"]
    assert "ANTHROPIC_API_KEY, HF_TOKEN" in kernel_status["message"]
    instructions = provider.systems[0].instructions
    assert "ANTHROPIC_API_KEY, HF_TOKEN" in instructions and "os.environ['NAME']" in instructions
    assert_no_secret(everything(outcome, sink, provider))


def test_a_failure_to_set_the_secrets_is_a_warning_and_the_generation_goes_on(kernel):
    class NoEnv(KernelExecutor):
        async def set_env(self, env, *, timeout=30.0, cancel=None):
            return ExecutionResult(
                status="error",
                error={"ename": "FileNotFoundError", "evalue": "no such file", "traceback": []},
            )

    executor = NoEnv(kernel.km)
    try:
        outcome, sink, _ = generate(
            kernel,
            executor,
            [turn(call("create_cell", code="# Intro", type="markdown")), turn(call("finish", summary="x"))],
            secret_env={"HF_TOKEN": HF},
        )
    finally:
        kernel.run(executor.close())
    assert outcome.status == "finished"
    [warning] = sink.of("warning")
    assert "HF_TOKEN" in warning["message"] and "FileNotFoundError" in warning["message"]


# -- hardcoded credentials in generated cells -------------------------------------------------------


def test_a_stored_secret_written_as_a_literal_is_rewritten_to_read_the_environment(kernel, executor):
    code = f'token = "{HF}"\nprint(len(token))'
    outcome, sink, provider = generate(
        kernel,
        executor,
        [
            turn(call("create_cell", code=code)),
            turn(call("execute_cell", cell_id="c1")),
            turn(call("finish", summary="ok")),
        ],
        secret_env=SECRET_ENV,
    )
    created = result_of(provider, 1)
    assert created["is_error"] is False
    note = json.loads(created["content"])["note"]
    assert 'os.environ["HF_TOKEN"]' in note and "never write keys into cells" in note
    [cell] = sink.of("cell_created")
    assert cell["source"] == 'import os\ntoken = os.environ["HF_TOKEN"]\nprint(len(token))'
    assert outcome.cells[0]["source"] == cell["source"]
    assert outcome.cells[0]["outputs"][0]["text"] == f"{len(HF)}\n"
    # The model's own tool call is shown masked in the events.
    assert HF not in json.dumps(sink.of("tool_call"))
    assert "[REDACTED" in sink.of("tool_call")[0]["arguments"]["code"]


def test_a_key_the_user_never_stored_is_recognised_by_its_shape(kernel, executor):
    unknown = "sk-ant-api03-" + "k" * 40
    outcome, sink, provider = generate(
        kernel,
        executor,
        [
            turn(call("create_cell", code=f"import os\nkey = '{unknown}'\nprint(len(key))")),
            turn(call("finish", summary="ok")),
        ],
    )
    assert sink.of("cell_created")[0]["source"] == (
        'import os\nkey = os.environ["ANTHROPIC_API_KEY"]\nprint(len(key))'
    )
    assert unknown not in everything(outcome, sink, provider).replace(json.dumps(provider.calls), "")


def test_a_key_that_cannot_be_rewritten_is_refused_and_nothing_changes(kernel, executor):
    outcome, sink, provider = generate(
        kernel,
        executor,
        [
            turn(call("create_cell", code=f'print(f"token: {HF}")')),
            turn(call("create_cell", code="x = 1")),
            turn(call("edit_cell", cell_id="c1", code=f"x = 2  # the key is {HF}")),
            turn(call("create_cell", code=f"The token is `{HF}`.", type="markdown")),
            turn(call("finish", summary="ok")),
        ],
        secret_env=SECRET_ENV,
    )
    refused = result_of(provider, 1)
    assert refused["is_error"] is True
    assert "hardcoded credential" in refused["content"] and "The cell was not created." in refused["content"]
    assert 'os.environ["NAME"] (HF_TOKEN)' in refused["content"]
    assert json.loads(result_of(provider, 2)["content"]) == {"cell_id": "c1"}  # no id was used up
    edit = result_of(provider, 3)
    assert edit["is_error"] is True and "The cell was not changed." in edit["content"]
    markdown = result_of(provider, 4)
    assert markdown["is_error"] is True and "The cell was not created." in markdown["content"]
    assert [d["source"] for d in sink.of("cell_created")] == ["x = 1"]
    assert [c["source"] for c in outcome.cells] == []  # c1 never ran
    assert_no_secret(everything(outcome, sink, provider).replace(json.dumps(provider.calls), ""))
    assert [e["ok"] for e in sink.of("tool_result")[:4]] == [False, True, False, False]


# -- approval ---------------------------------------------------------------------------------------


class Approver:
    def __init__(self, answer: bool | None) -> None:
        self.answer = answer  # None: never answers
        self.asked: list[dict] = []

    async def __call__(self, payload: dict) -> bool:
        self.asked.append(payload)
        if self.answer is None:
            await asyncio.Event().wait()
        return bool(self.answer)


def _run_shell_cell():
    return [
        turn(call("create_cell", code=SHELL_CELL), call("execute_cell", cell_id="c1")),
        turn(call("finish", summary="ok")),
    ]


def test_a_declined_cell_is_not_run_and_the_model_is_told_not_to_retry(kernel, executor):
    approver = Approver(False)
    outcome, sink, provider = generate(
        kernel, executor, _run_shell_cell(), approval_mode="risky", approve=approver
    )
    assert outcome.status == "finished"
    [required] = sink.of("approval_required")
    assert set(required) == {
        "approval_id",
        "cell_id",
        "source",
        "reasons",
        "details",
        "origin",
        "untrusted",
        "repo",
        "title",  # issue 12: what the cell does, for the card and the notification
    }
    assert required["details"] == ["runs: true"]
    assert required["origin"] == "model" and required["untrusted"] is False and required["repo"] is None
    assert required["cell_id"] == "c1" and required["source"] == SHELL_CELL
    assert required["reasons"] == ["runs shell commands"]
    assert len(required["approval_id"]) == 32 and int(required["approval_id"], 16) >= 0
    assert approver.asked == [required]
    assert sink.of("approval_resolved") == [
        {"approval_id": required["approval_id"], "cell_id": "c1", "approved": False}
    ]
    assert sink.of("cell_executed") == []
    answer = parse_execution_result(result_of(provider, 1, 1)["content"])
    assert answer["status"] == "declined" and answer["has_error"] is True
    assert "declined to run this cell (runs shell commands)" in answer["note"]
    assert "Do not retry it; find another way or skip it." in answer["note"]
    assert outcome.cells == []
    order = sink.types
    assert order.index("approval_required") < order.index("approval_resolved")


def test_an_approved_cell_runs(kernel, executor):
    approver = Approver(True)
    outcome, sink, _ = generate(kernel, executor, _run_shell_cell(), approval_mode="risky", approve=approver)
    assert [e["approved"] for e in sink.of("approval_resolved")] == [True]
    assert [e["ok"] for e in sink.of("cell_executed")] == [True]
    assert outcome.cells[0]["outputs"][0]["text"] == "ran\n"


def test_without_anyone_to_approve_a_risky_cell_is_not_run_with_a_warning(kernel, executor):
    outcome, sink, provider = generate(kernel, executor, _run_shell_cell(), approval_mode="risky")
    assert sink.of("approval_required") == [] and sink.of("cell_executed") == []
    assert any("needs approval (runs shell commands)" in w["message"] for w in sink.of("warning"))
    answer = parse_execution_result(result_of(provider, 1, 1)["content"])
    assert answer["status"] == "declined" and "none was given" in answer["note"]


def test_cancel_while_waiting_for_approval_cancels_the_generation(kernel, executor):
    approver = Approver(None)
    outcome, sink, _ = generate(
        kernel, executor, _run_shell_cell(), approval_mode="risky", approve=approver, cancel_after=0.5
    )
    assert outcome.status == "cancelled"
    assert [e["approved"] for e in sink.of("approval_resolved")] == [False]
    assert sink.of("cell_executed") == []
    assert sink.types[-1] == "cancelled"


def test_approval_modes(kernel, executor):
    _, never, _ = generate(
        kernel, executor, _run_shell_cell(), approval_mode="never", approve=Approver(False)
    )
    assert never.of("approval_required") == [] and [e["ok"] for e in never.of("cell_executed")] == [True]

    script = [
        turn(
            call("create_cell", code="# Notes", type="markdown"),
            call("create_cell", code="x = 1"),
            call("execute_cell", cell_id="c1"),
            call("execute_cell", cell_id="c2"),
        ),
        turn(call("finish", summary="ok")),
    ]
    _, always, _ = generate(kernel, executor, script, approval_mode="always", approve=Approver(True))
    [required] = always.of("approval_required")  # markdown never needs approval
    assert required["cell_id"] == "c2"
    assert required["reasons"] == ["every cell is approved by you (approval setting: always)"]


# -- what comes out of cells is masked everywhere ---------------------------------------------------


def test_secret_values_in_outputs_are_masked_for_the_model_the_events_and_the_notebook(kernel, executor):
    code = (
        "import os\nprint(os.environ['HF_TOKEN'])\nprint(repr(os.environ['ANTHROPIC_API_KEY']))\nos.environ\n"
    )
    long_code = "import os\nprint('x' * 1700 + os.environ['HF_TOKEN'] + 'y' * 1700)"
    outcome, sink, provider = generate(
        kernel,
        executor,
        [
            turn(call("create_cell", code=code), call("execute_cell", cell_id="c1")),
            turn(call("create_cell", code=long_code), call("execute_cell", cell_id="c2")),
            turn(
                call("create_cell", code="import os\nraise ValueError(os.environ['HF_TOKEN'])"),
                call("execute_cell", cell_id="c3"),
            ),
            turn(call("finish", summary="ok")),
        ],
        budgets=Budgets(output_chars=1500),
        secret_env=SECRET_ENV,
    )
    first = parse_execution_result(result_of(provider, 1, 1)["content"])
    assert first["stdout"].count("[REDACTED:secret]") == 2
    cut = parse_execution_result(result_of(provider, 2, 1)["content"])
    assert "characters omitted" in cut["stdout"]
    error = parse_execution_result(result_of(provider, 3, 1)["content"])
    assert error["error"]["evalue"] == "[REDACTED:secret]"
    cells = {c["metadata"]["cookbook"]["cell_id"]: c for c in outcome.cells}
    assert cells["c1"]["outputs"][0]["text"].count("[REDACTED:secret]") == 2
    environ = cells["c1"]["outputs"][1]["data"]["text/plain"]  # the os.environ mapping's repr
    assert environ.count("[REDACTED:secret]") == 2 and "'HF_TOKEN': '[REDACTED:secret]'" in environ
    assert "[REDACTED:secret]" in cells["c2"]["outputs"][0]["text"]
    assert len(cells["c2"]["outputs"][0]["text"]) > 3400  # complete, only the value masked
    [failed] = [e for e in sink.of("cell_executed") if not e["ok"]]
    assert failed["error"]["evalue"] == "[REDACTED:secret]"
    assert_no_secret(everything(outcome, sink, provider))


def test_the_callers_redact_still_applies_with_secret_env(kernel, executor):
    outcome, _, provider = generate(
        kernel,
        executor,
        [
            turn(call("create_cell", code="print('internal-SECRET123')"), call("execute_cell", cell_id="c1")),
            turn(call("finish", summary="x")),
        ],
        secret_env=SECRET_ENV,
        redact=lambda s: s.replace("SECRET123", "[MASKED]"),
    )
    assert outcome.cells[0]["outputs"][0]["text"] == "internal-[MASKED]\n"
    assert "SECRET123" not in json.dumps(list(tool_results(provider.calls[1][-1]).values()))


def test_repository_reads_and_searches_never_reveal_a_secret_value(kernel, executor, tmp_path):
    # Not token-shaped, so only the value masking (not the file reader's own masking) hides it.
    service = "svc-" + "".join(secrets.choice(_ALNUM) for _ in range(24))
    (tmp_path / "notes.txt").write_text(f"line one\nSERVICE_KEY={service}\nline three\n")
    outcome, sink, provider = generate(
        kernel,
        executor,
        [
            turn(
                call("read_file_from_repo", path="notes.txt"),
                call("search_repo", query=service[:10]),
                call("search_repo", query="SERVICE_KEY"),
            ),
            turn(call("finish", summary="x")),
        ],
        repo={"checkout": str(tmp_path), "name": "notes"},
        secret_env={**SECRET_ENV, "SERVICE_KEY": service},
    )
    read, by_prefix, by_name = (r["content"] for r in tool_results(provider.calls[1][-1]).values())
    assert "SERVICE_KEY=[REDACTED:secret]" in read
    assert by_prefix.startswith("No matches")  # a search is no oracle for a masked value
    assert "notes.txt:2: SERVICE_KEY=[REDACTED:secret]" in by_name
    text = everything(outcome, sink, provider).replace(json.dumps(provider.calls), "")
    assert_no_secret(text)
    assert service not in text and service not in json.dumps(
        list(tool_results(provider.calls[1][-1]).values())
    )
