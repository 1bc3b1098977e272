"""Every route of the extension refuses requests without credentials, and errors are clean JSON."""

import json

import pytest
from tornado.httpclient import HTTPClientError

from cookbook_ext.routes import make_handlers

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


def test_every_route_pattern_is_concrete():
    assert all("(" not in r for r in ROUTES)
    assert len(ROUTES) == 16


def test_every_handler_is_enumerated():
    assert len(CALLS) == 19


@pytest.mark.parametrize(("method", "path"), CALLS)
async def test_route_without_credentials_is_refused(jp_fetch, jp_serverapp, path, method):
    kwargs = {"method": method, "headers": {"Authorization": ""}, "raise_error": False}
    if method in ("POST", "PUT"):
        kwargs["body"] = json.dumps({"source": "x", "value": "y", "prompt": "p"})
    # jp_fetch adds the token; an explicit empty Authorization header replaces it.
    try:
        resp = await jp_fetch(*path.split("/"), **kwargs)
        code = resp.code
    except HTTPClientError as err:
        code = err.code
    assert code in (401, 403), f"{method} {path} answered {code}"


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
