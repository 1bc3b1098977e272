"""Request bodies and sessions at the edge of the REST API.

- A body over the limit is refused from its Content-Length before it is read (413): the server
  answers without waiting for a byte of it. A body without a length stops being kept at the limit.
- JSON nested too deeply is a 400, not a 500.
- A secret name matches in full ("ABC\\n" is not a name).
- A cookie-authenticated change without the XSRF token says that the XSRF check refused it.
"""

from __future__ import annotations

import asyncio
import json
from http.cookies import SimpleCookie

import pytest
from jupyter_server.utils import url_path_join
from tornado.httpclient import HTTPClientError

from cookbook_ext.routes import MAX_BODY_BYTES


def _error(err: HTTPClientError) -> dict:
    text = err.response.body.decode()
    assert "Traceback" not in text
    payload = json.loads(text)
    assert payload["code"] and payload["message"]
    return payload


async def _raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request on a plain socket: the status, headers and body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", 0))), 20)
        return status, headers, body
    finally:
        writer.close()


@pytest.mark.parametrize("path", ["repos", "generations", "secrets/HF_TOKEN"])
async def test_an_oversized_body_is_refused_from_its_content_length(
    jp_fetch, jp_serverapp, jp_http_port, jp_base_url, path
):
    method = "PUT" if path.startswith("secrets") else "POST"
    target = url_path_join(jp_base_url, "cookbook", path)
    token = jp_serverapp.identity_provider.token
    # Headers only: the 50 MB the length announces are never sent. Waiting for them would hang.
    request = (
        f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{jp_http_port}\r\n"
        f"Authorization: token {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {50 * MAX_BODY_BYTES}\r\n\r\n"
    ).encode()
    status, headers, body = await _raw(jp_http_port, request)
    assert status == 413
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body) == {"code": "too_large", "message": "The request body is larger than 1000 kB."}
    for name in ("repos", "generations", "secrets"):
        assert json.loads((await jp_fetch("cookbook", name)).body)[name] == []


async def test_a_client_waiting_for_100_continue_never_sends_the_body(jp_fetch):
    body = json.dumps({"source": "x" * (MAX_BODY_BYTES + 10)})
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "repos", method="POST", body=body, expect_100_continue=True)
    assert err.value.code == 413 and _error(err.value)["code"] == "too_large"


async def test_a_chunked_body_over_the_limit_is_refused(jp_fetch):
    sent = 0

    async def produce(write):
        nonlocal sent
        await write(b'{"source": "')
        for _ in range(15):
            await write(b"x" * 100_000)
            sent += 100_000
        await write(b'"}')

    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "repos", method="POST", body_producer=produce)
    assert err.value.code == 413 and _error(err.value)["code"] == "too_large"
    assert sent > MAX_BODY_BYTES
    assert json.loads((await jp_fetch("cookbook", "repos")).body)["repos"] == []


async def test_a_chunked_body_under_the_limit_is_read(jp_fetch):
    async def produce(write):
        for piece in (b'{"value": "', b"v" * 10_000, b'"}'):
            await write(piece)

    resp = await jp_fetch("cookbook", "secrets", "HF_TOKEN", method="PUT", body_producer=produce)
    assert json.loads(resp.body)["name"] == "HF_TOKEN"


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        ("repos", "POST", "[" * 100_000 + "]" * 100_000),
        ("repos", "POST", '{"source": ' + "[" * 100_000 + "]" * 100_000 + "}"),
        ("generations", "POST", '{"prompt": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}"),
        ("secrets/HF_TOKEN", "PUT", '{"value": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    ],
)
async def test_deeply_nested_json_is_a_400(jp_fetch, path, method, body):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", *path.split("/"), method=method, body=body)
    assert err.value.code == 400
    assert _error(err.value)["message"] == "The request body is nested too deeply."


@pytest.mark.parametrize("name", ["ABC\n", "ABC\r\n", "ABC\x00", " ABC", "ABC ", "ABÇ", "A" * 129, "A.B"])
async def test_a_secret_name_matches_in_full(jp_fetch, name):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "secrets", name, method="PUT", body=json.dumps({"value": "v" * 20}))
    assert err.value.code == 400 and "secret name" in _error(err.value)["message"]
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "secrets", name, method="DELETE")
    assert err.value.code in (400, 404)
    assert json.loads((await jp_fetch("cookbook", "secrets")).body)["secrets"] == []


async def test_validation_messages_do_not_echo_huge_field_names(jp_fetch):
    body = json.dumps({"source": "tiny-model", **{f"{i}" + "k" * 5000: 1 for i in range(50)}})
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "repos", method="POST", body=body)
    assert err.value.code == 422
    payload = _error(err.value)
    assert len(payload["message"]) < 2000 and len(payload["details"]["errors"]) == 10


# -- XSRF ------------------------------------------------------------------------------------------


async def _cookie_session(jp_fetch) -> str:
    """A browser-like session: the login cookie the server sets for a token-authenticated request."""
    resp = await jp_fetch("cookbook", "status")
    jar = SimpleCookie()
    for header in resp.headers.get_list("Set-Cookie"):
        jar.load(header)
    [name] = [n for n in jar if n.startswith("username-")]
    return f"{name}={jar[name].value}"


async def test_a_change_without_the_xsrf_token_says_the_xsrf_check_refused_it(jp_fetch):
    cookie = await _cookie_session(jp_fetch)
    # The cookie alone signs in: reads work.
    resp = await jp_fetch("cookbook", "secrets", headers={"Authorization": "", "Cookie": cookie})
    assert json.loads(resp.body)["secrets"] == []
    cases = [
        ("PUT", ("secrets", "HF_TOKEN"), json.dumps({"value": "v" * 20}), {}),
        ("POST", ("repos",), json.dumps({"source": "tiny-model"}), {}),
        ("DELETE", ("secrets", "HF_TOKEN"), None, {}),
        ("PUT", ("secrets", "HF_TOKEN"), json.dumps({"value": "v" * 20}), {"X-XSRFToken": "not-the-cookie"}),
    ]
    for method, parts, body, extra in cases:
        headers = {"Authorization": "", "Cookie": cookie + "; _xsrf=abc123", **extra}
        if not extra:
            headers["Cookie"] = cookie
        with pytest.raises(HTTPClientError) as err:
            await jp_fetch("cookbook", *parts, method=method, body=body, headers=headers)
        assert err.value.code == 403, (method, parts)
        payload = _error(err.value)
        assert payload["code"] == "xsrf_failed"
        assert payload["message"].startswith("The request was refused by the XSRF check: reload the page")
        assert "Not signed in" not in payload["message"]
    # With the token the page sends, the same session may change things.
    headers = {"Authorization": "", "Cookie": f"{cookie}; _xsrf=abc123", "X-XSRFToken": "abc123"}
    resp = await jp_fetch(
        "cookbook", "secrets", "HF_TOKEN", method="PUT", body=json.dumps({"value": "v" * 20}), headers=headers
    )
    assert resp.code == 200


async def test_no_session_at_all_is_still_not_signed_in(jp_fetch):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "secrets", headers={"Authorization": ""})
    assert err.value.code == 403 and _error(err.value)["code"] == "not_authorized"
