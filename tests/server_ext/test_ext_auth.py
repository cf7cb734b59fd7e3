"""Every verb of every labtrack handler is `@tornado.web.authenticated` (checked by inspection)."""

from __future__ import annotations

import inspect

import tornado.web

from labtrack.server_ext import _jupyter_server_extension_points
from labtrack.server_ext.app import LabtrackApp

VERBS = ("get", "head", "post", "put", "patch", "delete", "options")
# tornado.web.authenticated wraps every method in the same inner function; its code object marks it.
_AUTHENTICATED_CODE = tornado.web.authenticated(lambda self: None).__code__


def extension_handlers() -> list[tuple[str, type]]:
    app = LabtrackApp()
    app.initialize_handlers()
    return [(pattern, handler) for pattern, handler, *_ in app.handlers]


def unauthenticated_verbs(handler: type) -> list[str]:
    """Verbs that `handler` implements in labtrack code without `@tornado.web.authenticated`."""
    missing = []
    for verb in VERBS:
        method = getattr(handler, verb, None)
        if method is None or not getattr(method, "__module__", "").startswith("labtrack"):
            continue  # inherited from Jupyter/Tornado (e.g. APIHandler.options, the CORS preflight)
        if method.__code__ is not _AUTHENTICATED_CODE:
            missing.append(verb)
    return missing


def test_extension_point_is_the_labtrack_app() -> None:
    (point,) = _jupyter_server_extension_points()
    assert point == {"module": "labtrack.server_ext", "app": LabtrackApp}
    assert LabtrackApp.name == "labtrack"


def test_every_handler_verb_is_authenticated() -> None:
    handlers = extension_handlers()
    assert {pattern for pattern, _ in handlers} == {
        r"/labtrack/config", r"/labtrack/notebooks/track", r"/labtrack/notebooks/snapshot",
        r"/labtrack/notebooks/run-remotely", r"/labtrack/api/v1/(.*)",
    }
    for pattern, handler in handlers:
        implemented = [v for v in VERBS if getattr(getattr(handler, v, None), "__module__", "").startswith("labtrack")]
        assert implemented, f"{pattern}: {handler.__name__} implements no verb"
        assert unauthenticated_verbs(handler) == [], f"{pattern}: {handler.__name__} lacks @tornado.web.authenticated"


def test_the_authentication_check_catches_a_missing_decorator() -> None:
    from labtrack.server_ext.handlers import LabtrackHandler

    class Careless(LabtrackHandler):
        async def get(self) -> None: ...

        @tornado.web.authenticated
        async def post(self) -> None: ...

    Careless.__module__ = Careless.get.__module__ = Careless.post.__module__ = "labtrack.server_ext.careless"
    assert unauthenticated_verbs(Careless) == ["get"]
    assert inspect.iscoroutinefunction(Careless.get)
