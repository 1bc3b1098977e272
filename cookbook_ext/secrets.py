"""Per-user secrets (API keys, tokens) encrypted at rest with Fernet.

The key comes from the deployment (`COOKBOOK_SECRETS_KEY` or the `secrets_key` setting) or from a
key file that only the user can read. Values go in and are used server-side; only names and a
masked hint ever come back out.
"""

from __future__ import annotations

import builtins
import os
import re
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from .errors import BadRequest, NotFound, TooLarge, Upstream
from .store import Store

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_VALUE_CHARS = 16384
# Environment variables a provider, GitHub or the Hub read when no stored secret is set.
WELL_KNOWN = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "HF_TOKEN", "GITHUB_TOKEN")


def load_or_create_key(path: Path) -> bytes:
    """Read the Fernet key file, creating it (mode 0600, parent 0700) on first use."""
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def mask_hint(value: str) -> str:
    # Enough to tell two keys apart, never enough to matter.
    if len(value) >= 16:
        return f"…{value[-4:]}"
    return "…"


def validate_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise BadRequest(
            "A secret name is a letter or underscore followed by letters, digits or underscores "
            "(at most 128), like HF_TOKEN."
        )
    return name


class Secrets:
    def __init__(self, store: Store, key: bytes, defaults: dict[str, str] | None = None):
        self._store = store
        self._fernet = Fernet(key)
        # Values a deployment provides (c.CookbookApp.admin_secrets): used, never listed or returned.
        self._defaults = dict(defaults or {})

    def put(self, owner: str, name: str, value: str) -> dict[str, object]:
        validate_name(name)
        if not isinstance(value, str) or not value.strip():
            raise BadRequest("A secret needs a non-empty value.")
        if len(value) > MAX_VALUE_CHARS:
            raise TooLarge(f"A secret value is at most {MAX_VALUE_CHARS} characters.")
        value = value.strip()
        self._store.put_secret(owner, name, self._fernet.encrypt(value.encode()), mask_hint(value))
        return {"name": name, "hint": mask_hint(value)}

    def get(self, owner: str, name: str) -> str | None:
        blob = self._store.get_secret(owner, name)
        if blob is None:
            return None
        try:
            return self._fernet.decrypt(blob).decode()
        except InvalidToken as err:
            raise Upstream(
                f"The stored secret {name} cannot be decrypted with the current key; save it again."
            ) from err

    def resolve(self, owner: str, name: str) -> str | None:
        """The user's stored value, else the deployment's, else the server's environment."""
        return self.get(owner, name) or self._defaults.get(name) or os.environ.get(name) or None

    def list(self, owner: str) -> list[dict[str, object]]:
        return self._store.list_secrets(owner)

    def delete(self, owner: str, name: str) -> None:
        validate_name(name)
        if not self._store.delete_secret(owner, name):
            raise NotFound(f"No secret named {name}.")

    def values(self, owner: str) -> builtins.list[str]:
        """Every value the user's generations may meet (for redaction); never leaves the server."""
        out = [v for v in self._defaults.values() if v]
        for item in self._store.list_secrets(owner):
            value = self.get(owner, str(item["name"]))
            if value:
                out.append(value)
        return out
