"""Every HTTP method of every Cookbook handler is wrapped by `@web.authenticated` and `@authorized`.

No request is made: each handler class from `make_handlers()` is introspected. Both decorators use
`functools.wraps`, so a decorated method is a chain of wrappers linked by `__wrapped__`; each
wrapper is recognised by its code object (every function a decorator returns shares the code of
the decorator's inner function). The live counterpart is test_routes_auth.py.
"""

from __future__ import annotations

import pytest
from jupyter_server.auth.decorator import authorized
from tornado import web

from cookbook_ext.routes import make_handlers

AUTHENTICATED = web.authenticated(lambda self: None).__code__
AUTHORIZED = authorized(lambda self: None).__code__
HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete", "options")


def _decorators(func) -> list[str]:
    """The names of the recognised wrappers around `func`, outermost first."""
    names = []
    seen = set()
    while func is not None and id(func) not in seen:
        seen.add(id(func))
        code = getattr(func, "__code__", None)
        if code is AUTHENTICATED:
            names.append("web.authenticated")
        elif code is AUTHORIZED:
            names.append("authorized")
        func = getattr(func, "__wrapped__", None)
    return names


def _own_methods(handler: type) -> list[tuple[str, object]]:
    """The HTTP methods `handler` gets from Cookbook's code (not tornado's or jupyter_server's)."""
    found = []
    for name in HTTP_METHODS:
        owner = next((cls for cls in handler.__mro__ if name in vars(cls)), None)
        if owner is not None and owner.__module__.startswith("cookbook_ext"):
            found.append((name, vars(owner)[name]))
    return found


def problems(handlers) -> list[str]:
    out = []
    for pattern, handler in handlers:
        for name, func in _own_methods(handler):
            where = f"{handler.__name__}.{name} ({pattern})"
            decorators = _decorators(func)
            if "web.authenticated" not in decorators:
                out.append(f"{where} lacks @web.authenticated")
            if "authorized" not in decorators:
                out.append(f"{where} lacks @authorized")
            if decorators[:2] == ["authorized", "web.authenticated"]:
                out.append(f"{where}: @web.authenticated must be outside @authorized (listed first)")
    return out


def test_every_handler_method_is_authenticated_and_authorized():
    handlers = make_handlers()
    checked = [(h.__name__, name) for _, h in handlers for name, _ in _own_methods(h)]
    assert len(checked) >= len(handlers)  # every route has at least one method, all are checked
    assert problems(handlers) == []


# -- the check can fail ----------------------------------------------------------------------------


class _Base(web.RequestHandler):
    pass


_Base.__module__ = "cookbook_ext.fake"


def _handler(**methods) -> type:
    cls = type("FakeHandler", (_Base,), methods)
    cls.__module__ = "cookbook_ext.fake"
    return cls


async def _method(self):
    return None


@pytest.mark.parametrize(
    ("methods", "expected"),
    [
        ({"get": web.authenticated(authorized(_method))}, []),
        ({"get": authorized(_method)}, ["FakeHandler.get (/x) lacks @web.authenticated"]),
        ({"post": web.authenticated(_method)}, ["FakeHandler.post (/x) lacks @authorized"]),
        (
            {"delete": _method},
            ["FakeHandler.delete (/x) lacks @web.authenticated", "FakeHandler.delete (/x) lacks @authorized"],
        ),
        ({"patch": authorized("write")(_method)}, ["FakeHandler.patch (/x) lacks @web.authenticated"]),
        (
            {"put": authorized(web.authenticated(_method))},
            ["FakeHandler.put (/x): @web.authenticated must be outside @authorized (listed first)"],
        ),
    ],
)
def test_the_check_notices_a_missing_decorator(methods, expected):
    assert problems([("/x", _handler(**methods))]) == expected


def test_the_check_sees_inherited_methods():
    base = _handler(get=_method)
    child = type("Child", (base,), {})
    assert problems([("/x", child)]) == [
        "Child.get (/x) lacks @web.authenticated",
        "Child.get (/x) lacks @authorized",
    ]
