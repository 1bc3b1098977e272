"""cookbook/secrets over HTTP: values go in and never come back out."""

import json

import pytest
from tornado.httpclient import HTTPClientError

VALUE = "sk-ant-api03-" + "x" * 40


async def test_saved_secret_is_listed_without_its_value(jp_fetch):
    resp = await jp_fetch(
        "cookbook", "secrets", "ANTHROPIC_API_KEY", method="PUT", body=json.dumps({"value": VALUE})
    )
    assert resp.code == 200 and VALUE not in resp.body.decode()
    listing = await jp_fetch("cookbook", "secrets")
    assert VALUE not in listing.body.decode()
    assert [s["name"] for s in json.loads(listing.body)["secrets"]] == ["ANTHROPIC_API_KEY"]


async def test_a_stored_anthropic_key_makes_anthropic_the_default(jp_fetch):
    await jp_fetch(
        "cookbook", "secrets", "ANTHROPIC_API_KEY", method="PUT", body=json.dumps({"value": VALUE})
    )
    status = json.loads((await jp_fetch("cookbook", "status")).body)
    assert status["default_provider"] == "anthropic" and status["api_key_configured"] is True
    assert VALUE not in json.dumps(status)


async def test_deleted_secret_is_gone(jp_fetch):
    await jp_fetch("cookbook", "secrets", "HF_TOKEN", method="PUT", body=json.dumps({"value": VALUE}))
    resp = await jp_fetch("cookbook", "secrets", "HF_TOKEN", method="DELETE")
    assert resp.code == 204
    assert json.loads((await jp_fetch("cookbook", "secrets")).body)["secrets"] == []


@pytest.mark.parametrize(
    ("name", "body", "code"),
    [
        ("HF_TOKEN", "not json", 400),
        ("HF_TOKEN", "[1, 2]", 400),
        ("HF_TOKEN", json.dumps({}), 422),
        ("HF_TOKEN", json.dumps({"value": ""}), 422),
        ("HF_TOKEN", json.dumps({"value": 5}), 422),
        ("HF_TOKEN", json.dumps({"value": "v", "extra": 1}), 422),
        ("HF_TOKEN", json.dumps({"value": "x" * 20000}), 422),
        ("1BAD", json.dumps({"value": "v"}), 400),
    ],
)
async def test_bad_secret_requests_are_refused_and_store_nothing(jp_fetch, name, body, code):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", "secrets", name, method="PUT", body=body)
    assert err.value.code == code
    payload = json.loads(err.value.response.body)
    assert payload["message"] and "Traceback" not in payload["message"]
    assert json.loads((await jp_fetch("cookbook", "secrets")).body)["secrets"] == []
