"""The webhook's hot path: a Distribution registry's POST to ``/events`` or ``/events/<name>`` goes straight to
its handler, around FastAPI's middleware, routing and dependency layers.

A registry sends one event per POST and waits for the answer (FORMATS.md section 1.6), so what the server spends
per request besides Kafka's acknowledgement is the registry's throughput. FastAPI's stack (error and exception
middleware, the router's scan, the endpoint's dependency solving) cost about a fifth of a POST's time on the
event loop; the handler is the same ``receive`` either way, so answers, metrics and dead letters do not change.
Every other request (the other senders' paths, ``/healthz``, ``/metrics``, ``/openapi.json``, a wrong method or
a path with more segments) goes to the FastAPI app, which also keeps the two routes for its OpenAPI description.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

#: the handler of a notification POST for a registry name (``webhook.create_app``'s ``receive``)
Handler = Callable[[Request, str], Awaitable[Response]]
PREFIX = "/events/"


class EventsFastPath:
    """ASGI app answering POST /events and /events/<name> with ``handler``, and handing the rest to ``app``."""

    def __init__(self, app: ASGIApp, handler: Handler, default_registry: str) -> None:
        self.app = app
        self.handler = handler
        self.default_registry = default_registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        registry = self.registry_of(scope) if scope["type"] == "http" and scope["method"] == "POST" else None
        if registry is None:
            await self.app(scope, receive, send)
            return
        response = await self.handler(Request(scope, receive), registry)
        await response(scope, receive, send)

    def registry_of(self, scope: Scope) -> str | None:
        """The registry a path posts for, as FastAPI's ``/events/{registry}`` reads it (one segment, not empty);
        None for any other path."""
        path: str = scope["path"]
        if path == "/events":
            return self.default_registry
        if not path.startswith(PREFIX):
            return None
        name = path[len(PREFIX) :]
        return name if name and "/" not in name else None
