"""Every route of the extension refuses requests without credentials, and errors are clean JSON.

These tests run the server with jupyter_server's *default* `allow_unauthenticated_access` (True in
jupyter_server 2): the root conftest.py forces it to False for the other tests, which makes the
server itself refuse anonymous requests and would hide a handler that lacks `@web.authenticated`.
With the default, each handler's own decorators are all that stand between a request and the data:

- `@web.authenticated` refuses a request without credentials (checked live below: the refusal must
  come from authentication, not from `@authorized` noticing a missing user);
- `@authorized` asks the server's Authorizer (checked live with an Authorizer that refuses).

test_static_auth.py checks the same two decorators on every handler method without a request.
"""

import json
import logging

import pytest
from jupyter_server.auth import Authorizer
from jupyter_server.auth.decorator import authorized
from jupyter_server.auth.utils import HTTP_METHOD_TO_AUTH_ACTION
from tornado.httpclient import HTTPClientError

from cookbook_ext.routes import AUTH_RESOURCE, StatusHandler, make_handlers

GEN = "0" * 32


def _concrete(pattern: str) -> str:
    path = pattern.replace(r"([0-9a-f]{32})", GEN)
    path = path.replace(r"([^/?#]+(?:/[^/?#]+)?)", "owner/model").replace(r"([^/]+)", "HF_TOKEN")
    return path.lstrip("/")


ROUTES = [_concrete(p) for p, _ in make_handlers()]
# Every (method, path) a handler implements: the enumeration grows with the routes.
CALLS = [
    (method, _concrete(pattern))
    for pattern, handler in make_handlers()
    for method in ("GET", "POST", "PUT", "DELETE")
    if method.lower() in vars(handler)
]


class RecordingAuthorizer(Authorizer):
    """Allows everything (jupyter_server's default) unless a test sets `refuse`; records each ask."""

    refuse = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.asked: list[tuple[str, str]] = []

    def is_authorized(self, handler, user, action, resource):
        self.asked.append((action, resource))
        return not self.refuse


@pytest.fixture
def jp_server_config(jp_server_config):
    """The root conftest's server, with jupyter_server's default `allow_unauthenticated_access`."""
    server = {k: v for k, v in jp_server_config["ServerApp"].items() if k != "allow_unauthenticated_access"}
    server["authorizer_class"] = RecordingAuthorizer
    return {**jp_server_config, "ServerApp": server}


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


async def _call(jp_fetch, method: str, path: str, *, credentials: bool) -> tuple[int, list[str]]:
    """(status code, what tornado.application logged meanwhile) for one request."""
    kwargs = {"method": method, "raise_error": False}
    if not credentials:
        # jp_fetch adds the token; an explicit empty Authorization header replaces it.
        kwargs["headers"] = {"Authorization": ""}
    if method in ("POST", "PUT"):
        kwargs["body"] = json.dumps({"source": "x", "value": "y", "prompt": "p"})
    # `@authorized` logs this warning (on tornado's app_log) when it, not `@web.authenticated`,
    # is what turns away a request without a user.
    records = _Records()
    app_log = logging.getLogger("tornado.application")
    app_log.addHandler(records)
    try:
        try:
            resp = await jp_fetch(*path.split("/"), **kwargs)
            code = resp.code
        except HTTPClientError as err:
            code = err.code
    finally:
        app_log.removeHandler(records)
    return code, records.messages


def _authorization_saw_no_user(messages: list[str]) -> bool:
    return any("without authentication" in m for m in messages)


def test_every_route_pattern_is_concrete():
    assert all("(" not in r for r in ROUTES)
    assert len(ROUTES) == 23


def test_every_handler_is_enumerated():
    assert len(CALLS) == 27


def test_the_server_runs_with_the_default_allow_unauthenticated_access(jp_serverapp):
    # If this fails, JUPYTER_SERVER_ALLOW_UNAUTHENTICATED_ACCESS is set in the environment or a
    # fixture forces the setting: the live checks below would then test the server, not Cookbook.
    assert jp_serverapp.allow_unauthenticated_access is True
    assert jp_serverapp.web_app.settings["allow_unauthenticated_access"] is True


@pytest.mark.parametrize(("method", "path"), CALLS)
async def test_route_without_credentials_is_refused(jp_fetch, jp_serverapp, path, method):
    code, messages = await _call(jp_fetch, method, path, credentials=False)
    assert code in (401, 403), f"{method} {path} answered {code} without credentials"
    assert not _authorization_saw_no_user(messages), (
        f"{method} {path} was refused by @authorized, not by authentication: "
        "the handler method lacks @web.authenticated"
    )
    assert jp_serverapp.authorizer.asked == []


@pytest.mark.parametrize(("method", "path"), CALLS)
async def test_route_asks_the_authorizer(jp_fetch, jp_serverapp, path, method):
    """With valid credentials, every route still answers 403 when the Authorizer says no."""
    authorizer = jp_serverapp.authorizer
    authorizer.refuse = True
    code, _ = await _call(jp_fetch, method, path, credentials=True)
    assert code == 403, f"{method} {path} answered {code} although the Authorizer refused: no @authorized?"
    assert (HTTP_METHOD_TO_AUTH_ACTION[method], AUTH_RESOURCE) in authorizer.asked


async def test_the_live_checks_notice_a_missing_decorator(jp_fetch, jp_serverapp, monkeypatch):
    """The checks above are able to fail: strip decorators from one handler in the running server."""
    only_authorized = StatusHandler.get.__wrapped__  # under @web.authenticated: the @authorized wrapper
    bare = only_authorized.__wrapped__  # the method itself

    monkeypatch.setattr(StatusHandler, "get", only_authorized)
    code, messages = await _call(jp_fetch, "GET", "cookbook/status", credentials=False)
    assert code == 403 and _authorization_saw_no_user(messages)

    monkeypatch.setattr(StatusHandler, "get", bare)
    code, _ = await _call(jp_fetch, "GET", "cookbook/status", credentials=False)
    assert code == 200  # the default lets an undecorated method answer anyone

    jp_serverapp.authorizer.refuse = True
    code, _ = await _call(jp_fetch, "GET", "cookbook/status", credentials=True)
    assert code == 200 and jp_serverapp.authorizer.asked == []

    monkeypatch.setattr(StatusHandler, "get", authorized(bare))
    code, _ = await _call(jp_fetch, "GET", "cookbook/status", credentials=True)
    assert code == 403 and jp_serverapp.authorizer.asked == [("read", AUTH_RESOURCE)]


async def test_status_reports_offline_default_without_keys(jp_fetch):
    resp = await jp_fetch("cookbook", "status")
    body = json.loads(resp.body)
    assert resp.code == 200
    assert body["default_provider"] == "offline"
    assert body["api_key_configured"] is False
    assert {p["name"] for p in body["providers"]} == {"anthropic", "openai", "offline"}


async def test_unknown_generation_is_a_json_404(jp_fetch):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "generations", GEN)
    assert err.value.code == 404
    body = json.loads(err.value.response.body)
    assert body["code"] == "not_found" and "traceback" not in err.value.response.body.decode()
