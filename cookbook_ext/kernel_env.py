"""The environment of kernels Cookbook starts itself (the CLI's, a server-side kernel, a
verification kernel): the parent's, less anything that looks like a credential.

A kernel runs repository code; it gets a secret only when the user grants it for a generation
(set_env), never by inheriting the server's or the CLI's environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

# Names that hold credentials by convention, wherever they appear in a variable's name.
_CREDENTIAL_NAME = re.compile(
    r"(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY|AUTH)", re.IGNORECASE
)
# Known credential carriers whose names do not say so.
_KNOWN = frozenset(
    {
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "COOKBOOK_SECRETS_KEY",
        "JUPYTERHUB_API_TOKEN",
        "JPY_API_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "DATABASE_URL",
        "PGPASSWORD",
    }
)


def is_credential_name(name: str) -> bool:
    return name in _KNOWN or bool(_CREDENTIAL_NAME.search(name))


def kernel_environment(
    environ: Mapping[str, str] | None = None, *, also_drop: Iterable[str] = ()
) -> dict[str, str]:
    """`environ` (default: this process's) without credentials and without `also_drop` (the
    names of the user's stored secrets and the deployment's keys)."""
    source = os.environ if environ is None else environ
    drop = set(also_drop)
    return {k: v for k, v in source.items() if k not in drop and not is_credential_name(k)}
