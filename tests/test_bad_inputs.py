"""Hostile inputs across every route: each gets a clear JSON error and leaves the store unchanged.

Each case is checked for its status code, a `{code, message}` body without a traceback, and
unchanged repos, generations and secrets lists.

Tool arguments the model can send are covered in tests/test_agent_loop.py and the table at the end
of this file; files the ingester reads in tests/test_ingest_*.py and tests/test_prompt_injection.py.
"""

import json
import os
from dataclasses import dataclass

import pytest
from tornado.httpclient import HTTPClientError

from cookbook_ext.routes import MAX_BODY_BYTES
from tests.fakes.repos import make_local_repo

UNKNOWN = "f" * 32


@dataclass(frozen=True)
class Chunked:
    """A body of `size` bytes sent without a Content-Length (chunked), so it is read to the limit."""

    size: int


@dataclass(frozen=True)
class Expect100:
    """A JSON body of `size` bytes announced with `Expect: 100-continue`: refused before it is sent."""

    size: int


def _deep(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


# (method, path after cookbook/, query params, body, expected status)
REPO_SOURCES = [
    ("file:///etc", 400),
    ("ssh://git@github.com/o/r", 400),
    ("git@github.com:o/r.git", 400),
    ("http://127.0.0.1/o/r", (400, 403)),
    ("http://localhost/o/r", (400, 403)),
    ("https://[::1]/o/r", 403),
    ("https://169.254.169.254/latest/meta-data", 403),
    ("https://user:pass@github.com/o/r", 400),
    ("https://ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@github.com/o/r", 400),
    ("https://gitlab.com/o/r", 403),
    ("https://github.com.evil.example/o/r", 403),
    ("https://github.com/", 400),
    ("https://github.com/onlyowner", 400),
    ("javascript:alert(1)", 404),  # a folder name that does not exist
    ("../../etc", 403),
    ("/etc", 403),
    ("no-such-folder", 404),
    ("a\u0000b", 400),
    ("tiny-model\nrm -rf /", 400),
]

CASES = [
    *[("POST", "repos", None, {"source": src}, code) for src, code in REPO_SOURCES],
    ("POST", "repos", None, {"source": "x" * 5000}, 422),
    ("POST", "repos", None, {"source": 5}, 422),
    ("POST", "repos", None, {}, 422),
    ("POST", "repos", None, {"source": "tiny-model", "extra": True}, 422),
    ("POST", "repos", None, {"source": "tiny-model", "ref": "--upload-pack=touch /tmp/x"}, 400),
    ("POST", "repos", None, {"source": "tiny-model", "ref": "a..b"}, 400),
    ("POST", "repos", None, "not json", 400),
    ("POST", "repos", None, [1, 2], 400),
    ("GET", "repos/{repo}/files", {"path": "../../etc/passwd"}, None, (400, 403)),
    ("GET", "repos/{repo}/files", {"path": "/etc/passwd"}, None, (400, 403)),
    ("GET", "repos/{repo}/files", {"path": "escape-link"}, None, 403),
    ("GET", "repos/{repo}/files", {"path": "missing.txt"}, None, 404),
    ("GET", "repos/{repo}/files", {"path": "blob.bin"}, None, 422),
    ("GET", "repos/{repo}/files", {"path": "a\u0000b"}, None, 404),  # tornado strips the NUL
    ("GET", "repos/{repo}/files", None, None, 400),
    ("GET", f"repos/{UNKNOWN}", None, None, 404),
    ("GET", f"repos/{UNKNOWN}/context", None, None, 404),
    ("GET", f"repos/{UNKNOWN}/files", {"path": "README.md"}, None, 404),
    ("GET", "models/owner/na me", None, None, 400),
    ("GET", "models/" + "x" * 200, None, None, 400),
    ("GET", "models", {"search": "x" * 300}, None, 400),
    ("GET", "models", {"limit": "0"}, None, 400),
    ("GET", "models", {"limit": "abc"}, None, 400),
    ("GET", "models", {"limit": "100000"}, None, 400),
    ("GET", f"generations/{UNKNOWN}", None, None, 404),
    ("GET", f"generations/{UNKNOWN}/events", None, None, 404),
    ("GET", "generations/{gen}/events", {"after": "-1"}, None, 400),
    ("GET", "generations/{gen}/events", {"after": "abc"}, None, 400),
    ("GET", "generations/{gen}/events", {"timeout": "999"}, None, 400),
    ("POST", f"generations/{UNKNOWN}/cancel", None, {}, 404),
    ("GET", f"generations/{UNKNOWN}/notebook", None, None, 404),
    ("POST", f"generations/{UNKNOWN}/approvals/{UNKNOWN}", None, {"approved": True}, 404),
    ("POST", "generations/{gen}/approvals/" + UNKNOWN, None, {"approved": True}, 404),
    ("POST", "generations/{gen}/approvals/" + UNKNOWN, None, {"approved": "yes please"}, 422),
    ("POST", "generations", None, {"repo_id": "{repo}", "prompt": "p", "template": "no-such-template"}, 404),
    ("POST", "generations", None, {"repo_id": "{repo}", "prompt": "p", "provider": "skynet"}, 400),
    ("POST", "generations", None, {"repo_id": "{repo}", "prompt": "p", "provider": "anthropic"}, 400),
    ("POST", "generations", None, {"repo_id": "{repo}", "prompt": "p", "hf_model_id": "../etc/passwd"}, 400),
    ("POST", "generations", None, {"repo_id": "{repo}", "prompt": "p", "kernel_id": "0" * 32}, 404),
    ("POST", "generations", None, {"repo_id": "{repo}", "prompt": "p", "data_path": "../../etc"}, 403),
    ("POST", "generations", None, {"repo_id": "{repo}", "prompt": "p", "data_path": "nope.csv"}, 404),
    ("POST", "generations", None, {"repo_id": "{repo}", "prompt": "x" * 200_000}, 422),
    ("POST", "generations", None, {"source": "file:///etc", "prompt": "p"}, 400),
    ("POST", "generations", None, {"repo_id": "{repo}", "prompt": "p", "approval": "sometimes"}, 422),
    ("PUT", "secrets/HF_TOKEN", None, {"value": ["a"]}, 422),
    ("PUT", "secrets/BAD-NAME", None, {"value": "v"}, 400),
    ("DELETE", "secrets/NEVER_SAVED", None, None, 404),
    # -- use_my_data: a topic naming a path is confined exactly like data_path ------------------
    *[
        (
            "POST",
            "generations",
            None,
            {"repo_id": "{repo}", "prompt": "p", "template": "use_my_data", **f},
            code,
        )
        for f, code in [
            ({"topic": "/etc/passwd"}, 403),
            ({"topic": "../../etc/passwd"}, 403),
            ({"topic": "outside-link/secret.txt"}, 403),  # a link in the root pointing out of it
            ({"topic": "tiny-model/escape-link"}, 403),
            ({"topic": "no-such-data.csv"}, 404),
            ({"topic": "~/.ssh/id_rsa"}, 404),  # no ~ expansion: a folder named "~" under the root
            ({"topic": "data/a\u0000b.csv"}, 400),
            ({"topic": "a" * 300 + ".csv"}, 404),  # a name too long for the file system
            ({"topic": "C:\\Windows\\win.ini"}, 404),
            ({"topic": "x" * 3000}, 422),
            ({"data_path": "/etc/passwd"}, 403),
            ({"data_path": "outside-link"}, 403),
            ({"data_path": "a" * 300}, 404),
            ({"data_path": "a\u0000b"}, 400),
            ({"data_path": ""}, 422),
        ]
    ],
    # -- repository files: .git through links, escapes, odd paths ---------------------------------
    *[
        ("GET", "repos/{repo}/files", {"path": path}, None, code)
        for path, code in [
            ("dotgit/config", 403),  # dotgit -> .git
            ("cfg", 403),  # cfg -> .git/config
            ("dotgit", 403),
            (".git/config", 403),
            (".GIT/config", 403),
            ("examples/../../etc/passwd", 403),
            ("\\..\\..\\etc\\passwd", 403),
            ("C:\\Windows\\win.ini", 403),
            ("~/.ssh/id_rsa", 403),
            ("examples", 400),
            ("x" * 5000, 400),
            ("%2e%2e/etc/passwd", 404),  # decoded once: a literal name, not '..'
        ]
    ],
    # -- bodies: nesting, non-objects, bad bytes, oversized -----------------------------------------
    ("POST", "repos", None, _deep(100_000), 400),
    ("POST", "repos", None, '{"source": ' + _deep(100_000) + "}", 400),
    ("POST", "generations", None, '{"prompt": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}", 400),
    ("PUT", "secrets/HF_TOKEN", None, '{"value": ' + _deep(100_000) + "}", 400),
    ("POST", "generations/{gen}/approvals/" + UNKNOWN, None, '{"approved": ' + _deep(100_000) + "}", 400),
    ("POST", "repos", None, "null", 400),
    ("POST", "repos", None, '"tiny-model"', 400),
    ("POST", "repos", None, b"\xff\xfe{", 400),
    ("POST", "repos", None, '{"source": NaN}', 422),
    ("POST", "generations/{gen}/approvals/" + UNKNOWN, None, '{"approved": 1e999999}', 422),
    ("POST", "repos", None, Chunked(MAX_BODY_BYTES + 500_000), 413),
    ("PUT", "secrets/HF_TOKEN", None, Chunked(MAX_BODY_BYTES + 1), 413),
    ("POST", "generations", None, Expect100(2 * MAX_BODY_BYTES), 413),
    ("PUT", "secrets/HF_TOKEN", None, Expect100(MAX_BODY_BYTES + 100), 413),
    # -- methods a route does not have ----------------------------------------------------------
    ("POST", "status", None, {}, 405),
    ("DELETE", "repos", None, None, 405),
    ("PUT", "generations", None, {}, 405),
    ("POST", "recipes", None, {}, 405),
    ("DELETE", "generations/{gen}", None, None, 405),
    ("POST", "secrets", None, {}, 405),
    # -- secret names match in full -------------------------------------------------------------
    ("PUT", "secrets/ABC\n", None, {"value": "v" * 20}, 400),
    ("PUT", "secrets/ABC\r", None, {"value": "v" * 20}, 400),
    ("DELETE", "secrets/ABC\n", None, None, 400),
    ("PUT", "secrets/" + "A" * 129, None, {"value": "v" * 20}, 400),
    ("PUT", "secrets/AB\u00c7", None, {"value": "v" * 20}, 400),
    ("PUT", "secrets/HF_TOKEN", None, {"value": "   "}, 422),
    # -- generations: more fields ----------------------------------------------------------------
    ("POST", "generations", None, {"repo_id": "{repo}", "prompt": "x" * 30_000}, 413),  # max_prompt_chars
    ("POST", "generations", None, {"repo_id": "{repo}", "prompt": "p", "complexity": "godlike"}, 422),
    ("POST", "generations", None, {"repo_id": "{repo}", "prompt": "p", "kernel_id": "../../x"}, 422),
    ("POST", "generations", None, {"repo_id": "{repo}", "prompt": "p", "model": "a b"}, 422),
    ("POST", "generations", None, {"source": "../../etc", "prompt": "p"}, 403),
    ("POST", "generations", None, {"repo_id": "{repo}", "prompt": "   "}, 422),
    ("POST", "generations", None, {"repo_id": "{repo}", "prompt": "p", "compare_with": "x" * 300}, 422),
    ("POST", "generations", None, {"repo_id": "{repo}", "prompt": "p", "template": ""}, 422),
    ("POST", "generations", None, {"repo_id": UNKNOWN, "prompt": "p"}, 404),
    ("GET", "generations/{gen}/events", {"after": "1e3"}, None, 400),
    ("GET", "generations/{gen}/events", {"timeout": "-1"}, None, 400),
    ("GET", "models/acme/tiny\n", None, None, 400),
    # -- recipes: typed inputs, versions, templates that misbehave, files too big ----------------
    *[
        ("POST", "generations", None, {"repo_id": "{repo}", "prompt": "p", **f}, code)
        for f, code in [
            ({"template": "typed"}, 422),  # its required input `n` is missing
            ({"template": "typed", "inputs": {"n": "five"}}, 422),
            ({"template": "typed", "inputs": {"n": 11}}, 422),  # max 10
            ({"template": "typed", "inputs": {"n": 2, "mode": "turbo"}}, 422),  # not a choice
            ({"template": "typed", "inputs": {"n": 2, "colour": "red"}}, 422),  # no such input
            ({"template": "typed", "inputs": {"n": 2, "tags": "a,b"}}, 422),  # not a list
            ({"template": "typed", "inputs": {"n": 2, "flag": "yes"}}, 422),  # not a boolean
            ({"template": "typed", "inputs": {"n": 2, "where": "../../etc"}}, 403),  # a path input
            ({"template": "typed", "inputs": {"n": 2}, "template_version": "0.9.0"}, 409),
            ({"template": "typed", "template_version": "latest"}, 422),
            ({"template": "quickstart", "template_version": "9.9.9"}, 409),
            ({"template": "typed", "inputs": ["n", 2]}, 422),
            ({"template": "typed", "inputs": {f"k{i}": 1 for i in range(40)}}, 422),
            ({"template": "sneaky"}, 422),  # reaches for __class__: the sandbox refuses
            ({"template": "forever"}, 422),  # loops past the render time limit
            ({"template": "big"}, 422),  # a 10 MB recipe file is refused unread
            ({"template": "ab_arena", "inputs": {"compare_with": "x" * 300}}, 422),
            ({"template": "ab_arena", "compare_with": "a/b", "inputs": {"compare_with": "c/d"}}, 422),
        ]
    ],
    # -- the catalogue (none configured here) ------------------------------------------------------
    ("POST", "catalog/writing/install", None, {}, 404),
    ("POST", "catalog/writing/update", None, {}, 409),
    ("DELETE", "catalog/writing", None, None, 404),
    ("POST", "catalog/..%2F..%2Fetc/install", None, {}, 400),
    ("DELETE", "catalog/Bad%20Name", None, None, 400),
    ("PUT", "catalog", None, {}, 405),
    # -- comparisons -------------------------------------------------------------------------------
    *[
        ("POST", "comparisons", None, {"repo_id": "{repo}", "prompt": "p", **f}, code)
        for f, code in [
            ({"runs": [{"provider": "offline"}]}, 422),
            ({"runs": [{"provider": "offline"}] * 9}, 422),
            ({}, 422),
            ({"runs": [{"provider": "offline"}, {"provider": "skynet"}]}, 400),
            ({"runs": [{"provider": "offline"}, {"name": "offline"}]}, 422),
            ({"runs": [{"provider": "offline"}] * 2, "kernel_id": "0" * 32}, 422),
            ({"runs": [{"provider": "offline"}] * 2, "template": "typed"}, 422),
            ({"runs": [{"provider": "offline"}] * 2, "template": "forever"}, 422),
        ]
    ],
    ("GET", f"comparisons/{UNKNOWN}", None, None, 404),
    ("DELETE", "comparisons", None, None, 405),
]

TYPED_RECIPE = """\
id: typed
version: 1.0.0
title: Typed
inputs:
  prompt: {type: text, required: true}
  n: {type: number, required: true, min: 1, max: 10}
  mode: {type: choice, choices: [fast, careful], default: fast}
  tags: {type: array<string>}
  flag: {type: boolean, default: false}
  where: {type: path}
instructions: "Do {{ prompt }} {{ n }} times, {{ mode }}."
"""
SNEAKY_RECIPE = """\
id: sneaky
version: 1.0.0
title: Sneaky
inputs:
  prompt: {type: text, required: true}
instructions: "{{ prompt.__class__.__mro__[1].__subclasses__() }}"
"""
FOREVER_RECIPE = """\
id: forever
version: 1.0.0
title: Forever
inputs:
  prompt: {type: text, required: true}
instructions: "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"
"""


def _recipe_files(jp_serverapp) -> None:
    """The user's recipe folder: a typed recipe, two that misbehave, and a 10 MB file (sparse: it
    takes no disk, and is refused by its size before it is read)."""
    registry = jp_serverapp.web_app.settings["cookbook_recipes"]
    registry.render_timeout = 0.3  # the infinite loop is stopped sooner
    folder = registry.user_folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "typed.yaml").write_text(TYPED_RECIPE)
    (folder / "sneaky.yaml").write_text(SNEAKY_RECIPE)
    (folder / "forever.yaml").write_text(FOREVER_RECIPE)
    with open(folder / "big.yaml", "wb") as f:
        f.truncate(10 * 1024 * 1024)


async def _world(jp_fetch, jp_serverapp, jp_root_dir, tmp_path):
    """One ingested repository with a binary file and a symlink escaping it, one finished generation."""
    repo_dir = make_local_repo(jp_root_dir)
    (repo_dir / "blob.bin").write_bytes(bytes(range(256)) * 8)
    outside = tmp_path / "outside-secret.txt"
    outside.write_text("not yours")
    os.symlink(outside, repo_dir / "escape-link")
    (repo_dir / ".git").mkdir()
    (repo_dir / ".git" / "config").write_text("[remote]\n\turl = https://u:hunter2@example.com/x\n")
    os.symlink(".git", repo_dir / "dotgit")
    os.symlink(".git/config", repo_dir / "cfg")
    (tmp_path / "outside-folder").mkdir()
    (tmp_path / "outside-folder" / "secret.txt").write_text("not yours")
    os.symlink(tmp_path / "outside-folder", jp_root_dir / "outside-link")
    repo = json.loads(
        (await jp_fetch("cookbook", "repos", method="POST", body=json.dumps({"source": "tiny-model"}))).body
    )
    _recipe_files(jp_serverapp)
    store = jp_serverapp.web_app.settings["cookbook"].store.sync
    gen = store.create_generation(
        request={"prompt": "p"}, provider="offline", model=None, repo_id=repo["id"], kernel_id=None
    )
    store.add_events(gen["id"], [(1, "started", {}, 0.0), (2, "finished", {}, 1.0)])
    store.update_generation(gen["id"], status="finished")
    return {"repo": repo["id"], "gen": gen["id"]}


async def _snapshot(jp_fetch):
    out = {}
    for name in ("repos", "generations", "secrets", "comparisons", "recipes", "catalog"):
        out[name] = json.loads((await jp_fetch("cookbook", name)).body)
    return out


def test_the_table_has_at_least_a_hundred_hostile_inputs():
    assert len(CASES) >= 100


async def _chunks(size: int):
    async def produce(write):
        left = size
        while left > 0:
            await write(b"x" * min(left, 100_000))
            left -= 100_000

    return produce


def _case_id(index: int) -> str:
    method, path = CASES[index][:2]
    return f"{index:03d}-{method}-{path[:40]!r}"


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "expected"), CASES, ids=[_case_id(i) for i in range(len(CASES))]
)
async def test_hostile_input_gets_a_clear_error_and_changes_nothing(
    jp_fetch, jp_serverapp, jp_root_dir, tmp_path, method, path, params, body, expected
):
    world = await _world(jp_fetch, jp_serverapp, jp_root_dir, tmp_path)
    before = await _snapshot(jp_fetch)
    path = path.format(**world)
    if isinstance(body, dict):
        body = json.loads(json.dumps(body).replace("{repo}", world["repo"]))
    kwargs = {"method": method}
    if params:
        kwargs["params"] = params
    if isinstance(body, Chunked):
        kwargs["body_producer"] = await _chunks(body.size)
    elif isinstance(body, Expect100):
        kwargs["body"] = json.dumps({"value": "x" * body.size})
        kwargs["expect_100_continue"] = True
    elif method in ("POST", "PUT"):
        kwargs["body"] = (
            body if isinstance(body, str | bytes) else json.dumps(body if body is not None else {})
        )
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("cookbook", *path.split("/"), **kwargs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert err.value.code in expected, err.value.response.body
    payload = json.loads(err.value.response.body)
    assert isinstance(payload.get("code"), str) and payload["code"]
    assert isinstance(payload.get("message"), str) and payload["message"]
    text = err.value.response.body.decode()
    assert "Traceback" not in text and 'File "' not in text
    assert "hunter2" not in text and "not yours" not in text
    assert await _snapshot(jp_fetch) == before
