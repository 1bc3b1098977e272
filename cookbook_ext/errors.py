"""Domain errors shared by every service; the HTTP layer maps them to status codes.

Core modules raise these (never tornado errors) so the CLI and the tests can use them too.
A message is written for the user: it says what was wrong and what to do, never a traceback.
"""

from __future__ import annotations

from typing import Any


class CookbookError(Exception):
    """Base class: `status` is the HTTP status the REST layer answers with."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(CookbookError):
    status = 400
    code = "bad_request"


class AuthRequired(CookbookError):
    """Upstream needs credentials we do not have (e.g. a private repository without a token)."""

    status = 401
    code = "auth_required"


class Forbidden(CookbookError):
    status = 403
    code = "forbidden"


class NotFound(CookbookError):
    status = 404
    code = "not_found"


class Conflict(CookbookError):
    status = 409
    code = "conflict"


class TooLarge(CookbookError):
    status = 413
    code = "too_large"


class Invalid(CookbookError):
    status = 422
    code = "invalid"


class Upstream(CookbookError):
    """An external service (GitHub, the Hub, a model provider) failed or answered nonsense."""

    status = 502
    code = "upstream_error"


class UpstreamTimeout(CookbookError):
    status = 504
    code = "upstream_timeout"


class TooMany(CookbookError):
    """A per-server limit on concurrent work (e.g. running generations) is reached: try later."""

    status = 429
    code = "too_many_requests"
