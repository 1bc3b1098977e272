"""Guardrails for cells before they run: hardcoded credentials (credentials.py), what a cell does
that a user may want to approve first (risk.py), and the user's approval setting applied to it."""

from __future__ import annotations

from .credentials import ENV_FOR_KIND, CredentialCheck, check_credentials
from .risk import RISK_ORDER, RiskReport, assess_risk, classify_risk

__all__ = [
    "APPROVAL_MODES",
    "ENV_FOR_KIND",
    "RISK_ORDER",
    "CredentialCheck",
    "RiskReport",
    "assess_risk",
    "check_credentials",
    "classify_risk",
    "needs_approval",
]

APPROVAL_MODES = ("never", "risky", "always")


def needs_approval(mode: str, code: str, cell_type: str = "code") -> list[str]:
    """The reasons to ask the user before running this cell under `mode` (empty: run it)."""
    if cell_type != "code" or mode == "never":
        return []
    reasons = classify_risk(code)
    if mode == "always":
        return reasons or ["every cell is approved by you (approval setting: always)"]
    return reasons
