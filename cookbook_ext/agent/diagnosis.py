"""Why a generation failed or kept nothing, in one sentence, and what the user can do next.

`Diagnosis` watches a generation's events as they are emitted (missing modules, declined
approvals and what they would have installed, code of an untrusted repository left unrun, failed
attempts) and, at the end, `explain` gives the terminal event's `cause` and `next_steps`:
`install_and_retry` (with `packages`), `trust_repository` (with `repo_id`), `try_provider` (with
`provider`) and `show_attempts`, each with a `label` for its button.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .requirements import distribution_for, imported_modules, modules_of, normalise

__all__ = ["Diagnosis", "NEXT_STEP_ACTIONS"]

NEXT_STEP_ACTIONS = ("install_and_retry", "show_attempts", "try_provider", "trust_repository")

_NO_MODULE = re.compile(r"No module named ['\"]?([A-Za-z_][\w.]*)")
_COULD_NOT_INSTALL = re.compile(r"Could not install: (.+)")
_INSTALLS = re.compile(r"^installs (?!the packages in )(.+?)(?: \(.*\))?$")
_REQUIREMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
_NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}


@dataclass
class _Approval:
    cell_id: str
    packages: list[str]
    untrusted: bool
    installs: bool


@dataclass
class Diagnosis:
    """See the module docstring. Feed it every event (`observe`), then ask `explain`."""

    missing: list[str] = field(default_factory=list)  # distributions, in the order first missed
    failed_installs: list[str] = field(default_factory=list)
    failed_cells: dict[str, str] = field(default_factory=dict)  # cell id -> its error
    declined: list[_Approval] = field(default_factory=list)
    unanswered_untrusted: int = 0
    validated: set[str] = field(default_factory=set)
    _sources: dict[str, str] = field(default_factory=dict)
    _pending: dict[str, _Approval] = field(default_factory=dict)

    def observe(self, type: str, data: Mapping[str, Any]) -> None:
        cell_id = str(data.get("cell_id") or "")
        if type == "cell_executed" and not data.get("ok"):
            error = data.get("error") or {}
            text = f"{error.get('ename') or ''}: {error.get('evalue') or ''}"
            self.failed_cells[cell_id] = str(data.get("short_error") or text)
            for module in _NO_MODULE.findall(text):
                self._add(self.missing, distribution_for(module) or module.split(".")[0])
            for listed in _COULD_NOT_INSTALL.findall(text):
                for requirement in listed.split(","):
                    name = _requirement_name(requirement)
                    if name:
                        self._add(self.failed_installs, name)
                        self._add(self.missing, name)
        elif type == "cell_created":
            self._sources[cell_id] = str(data.get("source") or "")
        elif type == "tool_call" and data.get("name") == "edit_cell":
            args = data.get("arguments") or {}
            if isinstance(args, Mapping) and isinstance(args.get("code"), str):
                self._sources[str(args.get("cell_id"))] = args["code"]
        elif type == "cell_validated":
            self.validated.add(cell_id)
            self.failed_cells.pop(cell_id, None)
            # A module a cell that ran imports is there after all (installed since).
            there = {distribution_for(m) or m for m in imported_modules(self._sources.get(cell_id, ""))}
            self.missing = [m for m in self.missing if m not in there]
        elif type == "approval_required":
            reasons = [str(r) for r in data.get("reasons") or []]
            packages = [str(p) for p in data.get("packages") or []]
            for detail in data.get("details") or []:
                match = _INSTALLS.match(str(detail))
                if match and not packages:
                    packages = [p.strip() for p in match.group(1).split(",") if p.strip()]
            self._pending[str(data.get("approval_id"))] = _Approval(
                cell_id=cell_id,
                packages=packages,
                untrusted=bool(data.get("untrusted")),
                installs="installs packages" in reasons or bool(packages),
            )
        elif type == "approval_resolved":
            approval = self._pending.pop(str(data.get("approval_id")), None)
            if approval is not None and not data.get("approved"):
                self.declined.append(approval)
        elif type == "warning" and data.get("code") == "no_approver" and data.get("untrusted"):
            self.unanswered_untrusted += 1

    @staticmethod
    def _add(items: list[str], name: str) -> None:
        if name and name.lower() not in {i.lower() for i in items}:
            items.append(name)

    def attempts(self) -> int:
        """Failed attempts the user could look at: cells that failed on their last run, or were
        declined."""
        return len(set(self.failed_cells) | {a.cell_id for a in self.declined})

    def explain(
        self,
        *,
        code: str,
        message: str,
        uses_model: bool,
        provider: str,
        alternatives: Sequence[Mapping[str, Any]] = (),
        repo_id: str | None = None,
        trusted: bool = True,
    ) -> tuple[str, list[dict[str, Any]]]:
        """(cause, next_steps) for a generation that ended with `code` / `message` and kept
        nothing or failed. `alternatives` are the other available providers ({name,
        display_name, uses_model}) from the registry."""
        what = "code needs" if uses_model else "examples need"
        clauses: list[str] = []
        declined_installs = [a for a in self.declined if a.installs]
        # The declined installs' requirements, by pip's names: what a missing module is called.
        declared = list(
            dict.fromkeys(_requirement_name(p) or p for a in declined_installs for p in a.packages)
        )
        missing = list(dict.fromkeys(_pip_name(m, declared) for m in self.missing))
        # The repository's own code the user declined (an install declined is counted as one).
        untrusted_refused = sum(1 for a in self.declined if a.untrusted and not a.installs)
        untrusted_refused += self.unanswered_untrusted
        if missing:
            clauses.append(f"The {what} {_and(missing)}, which {_is_are(missing)} not installed")
        if declined_installs:
            count = len(declined_installs)
            noun = "install was" if count == 1 else f"{_number(count)} installs were"
            clauses.append(f"the {noun} declined" if clauses else f"The {noun} declined")
        elif self.failed_installs and not missing:
            clauses.append(f"Installing {_and(self.failed_installs)} failed")
        if untrusted_refused and not trusted:
            cells = "cell" if untrusted_refused == 1 else "cells"
            clause = (
                f"{untrusted_refused} {cells} of the repository's code did not run because the "
                "repository is not trusted"
            )
            clauses.append(clause if clauses else clause[0].upper() + clause[1:])
        if clauses:
            cause = ", and ".join(clauses) + "."
        else:
            cause = _first_sentence(message) or "Nothing was kept."
            if code == "nothing_validated" and self.failed_cells and "(" not in cause:
                errors = list(self.failed_cells.values())
                common = max(set(errors), key=errors.count)
                cause = cause.rstrip(".") + f"; the most common error was {common}."

        steps: list[dict[str, Any]] = []
        if untrusted_refused and repo_id and not trusted:
            steps.append(
                {"action": "trust_repository", "label": "Trust this repository and retry", "repo_id": repo_id}
            )
        # What to install: the declined installs' requirements, and what else is missing.
        packages = [*declared, *(m for m in missing if normalise(m) not in map(normalise, declared))]
        if packages:
            steps.append(
                {
                    "action": "install_and_retry",
                    "label": f"Install {_and(packages)} and retry",
                    "packages": packages,
                }
            )
        attempts = self.attempts()
        if attempts:
            label = "Show the failed attempt" if attempts == 1 else "Show the failed attempts"
            steps.append({"action": "show_attempts", "label": label, "count": attempts})
        alternative = _alternative(alternatives, provider, uses_model, code)
        if alternative is not None:
            shown = alternative.get("display_name") or alternative["name"]
            steps.append(
                {"action": "try_provider", "label": f"Try with {shown}", "provider": alternative["name"]}
            )
        return cause, steps


def _alternative(
    alternatives: Sequence[Mapping[str, Any]], provider: str, uses_model: bool, code: str
) -> Mapping[str, Any] | None:
    """Another available provider worth offering: a model-backed one after an offline run; after
    a model provider's failure, another model provider first, then the offline one."""
    others = [a for a in alternatives if a.get("available") and a.get("name") != provider]
    with_model = [a for a in others if a.get("uses_model", True)]
    if not uses_model:
        return with_model[0] if with_model else None
    if with_model:
        return with_model[0]
    without = [a for a in others if not a.get("uses_model", True)]
    return without[0] if without and code not in ("budget_exhausted",) else None


def _pip_name(missing: str, declared: Sequence[str]) -> str:
    """The declared requirement that provides a missing module, else the module's own name."""
    for name in declared:
        if missing in modules_of(name) or normalise(missing) == normalise(name):
            return name
    return missing


def _requirement_name(requirement: str) -> str:
    match = _REQUIREMENT_NAME.match(requirement.strip().strip("'\""))
    return match.group(0) if match else ""


def _and(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _is_are(items: Sequence[str]) -> str:
    return "is" if len(items) == 1 else "are"


def _number(count: int) -> str:
    return _NUMBERS.get(count, str(count))


def _first_sentence(message: str) -> str:
    text = " ".join((message or "").split())
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return match.group(1) if match else text
