"""Why a run failed or kept nothing, read from its events (agent/diagnosis.py): one sentence, and
the next steps as buttons."""

from __future__ import annotations

from cookbook_ext.agent.diagnosis import Diagnosis

ANTHROPIC = {"name": "anthropic", "display_name": "Anthropic (Claude)", "available": True, "uses_model": True}
OFFLINE = {"name": "offline", "display_name": "Offline", "available": True, "uses_model": False}


def _events(diagnosis: Diagnosis, events: list[tuple[str, dict]]) -> Diagnosis:
    for type_, data in events:
        diagnosis.observe(type_, data)
    return diagnosis


def _missing(cell_id: str, module: str) -> tuple[str, dict]:
    return (
        "cell_executed",
        {
            "cell_id": cell_id,
            "ok": False,
            "error": {"ename": "ModuleNotFoundError", "evalue": f"No module named '{module}'"},
        },
    )


def _declined_install(approval_id: str, cell_id: str, packages: list[str]) -> list[tuple[str, dict]]:
    return [
        (
            "approval_required",
            {
                "approval_id": approval_id,
                "cell_id": cell_id,
                "reasons": ["installs packages"],
                "details": [f"installs {', '.join(packages)}"],
                "untrusted": False,
            },
        ),
        ("approval_resolved", {"approval_id": approval_id, "cell_id": cell_id, "approved": False}),
    ]


def test_a_missing_module_and_two_declined_installs_are_the_cause_in_one_sentence():
    diagnosis = _events(
        Diagnosis(),
        [
            ("cell_created", {"cell_id": "c1", "source": "import torch"}),
            _missing("c1", "torch"),
            *_declined_install("a1", "c2", ["torch==2.1", "triton"]),
            *_declined_install("a2", "c3", ["black", "flake8"]),
        ],
    )
    cause, steps = diagnosis.explain(
        code="nothing_validated",
        message="Nothing runnable was found for whisper: ...",
        uses_model=False,
        provider="offline",
        alternatives=[ANTHROPIC],
    )
    assert cause == "The examples need torch, which is not installed, and the two installs were declined."
    assert steps == [
        {
            "action": "install_and_retry",
            "label": "Install torch, triton, black and flake8 and retry",
            "packages": ["torch", "triton", "black", "flake8"],
        },
        {"action": "show_attempts", "label": "Show the failed attempts", "count": 3},
        {"action": "try_provider", "label": "Try with Anthropic (Claude)", "provider": "anthropic"},
    ]


def test_a_module_that_a_later_cell_imports_successfully_is_not_the_cause():
    diagnosis = _events(
        Diagnosis(),
        [
            ("cell_created", {"cell_id": "c1", "source": "import jsonschema_missing_here"}),
            _missing("c1", "jsonschema_missing_here"),
            ("cell_created", {"cell_id": "c2", "source": "import jsonschema_missing_here\nprint(1)"}),
            ("cell_validated", {"cell_id": "c2"}),
        ],
    )
    cause, steps = diagnosis.explain(
        code="budget_exhausted",
        message="Stopped at the time limit (60 s). The cells validated so far are kept.",
        uses_model=True,
        provider="anthropic",
    )
    assert cause == "Stopped at the time limit (60 s)."
    assert [s["action"] for s in steps] == ["show_attempts"]


def test_untrusted_code_left_unrun_offers_to_trust_the_repository():
    diagnosis = _events(
        Diagnosis(),
        [
            ("approval_required", {"approval_id": "a", "cell_id": "c1", "reasons": [], "untrusted": True}),
            ("approval_resolved", {"approval_id": "a", "approved": False}),
            ("warning", {"code": "no_approver", "cell_id": "c2", "untrusted": True}),
        ],
    )
    cause, steps = diagnosis.explain(
        code="nothing_validated",
        message="Nothing runnable was found.",
        uses_model=False,
        provider="offline",
        repo_id="r" * 32,
        trusted=False,
    )
    assert cause == "2 cells of the repository's code did not run because the repository is not trusted."
    assert steps[0] == {
        "action": "trust_repository",
        "label": "Trust this repository and retry",
        "repo_id": "r" * 32,
    }
    # Trusted since (the user trusted it during the run): not offered.
    _, steps = diagnosis.explain(
        code="nothing_validated", message="x", uses_model=False, provider="offline", repo_id="r", trusted=True
    )
    assert "trust_repository" not in [s["action"] for s in steps]


def test_a_model_providers_failure_offers_another_available_provider_and_never_itself():
    cause, steps = Diagnosis().explain(
        code="auth_failed",
        message="The model API rejected the key. Check it under Secrets.",
        uses_model=True,
        provider="anthropic",
        alternatives=[ANTHROPIC, {**OFFLINE, "available": False}],
    )
    assert cause == "The model API rejected the key."
    assert steps == []
    _, steps = Diagnosis().explain(
        code="auth_failed",
        message="x",
        uses_model=True,
        provider="anthropic",
        alternatives=[ANTHROPIC, OFFLINE],
    )
    assert steps == [{"action": "try_provider", "label": "Try with Offline", "provider": "offline"}]


def test_an_offline_run_without_a_model_provider_configured_offers_none():
    _, steps = Diagnosis().explain(
        code="nothing_validated",
        message="Nothing runnable.",
        uses_model=False,
        provider="offline",
        alternatives=[],
    )
    assert steps == []
