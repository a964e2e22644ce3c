"""One client's HTTP requests, as nginx logs them and as the registry turns them into notification events.

The deployment copies the ``behind-nginx`` capture: nginx checks Basic auth and forwards to registry replicas
that do no auth of their own, so ``actor.name`` is the forwarded Basic user and ``request.addr`` is the first
``X-Forwarded-For`` entry (a plain IP). Two exceptions make ``ip:port`` addresses: the ``/v2/public/``
location (``auth_basic off``) forgot its ``proxy_set_header X-Forwarded-For`` lines, so the registry sees
nginx's own address and an ``http`` URL; and a client that reaches a replica directly, bypassing nginx, is
anonymous and leaves no access line. Failed Basic auth (401) and nginx ``deny`` rules (403) never reach the
registry.
"""

from __future__ import annotations

import heapq
import itertools
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random

from regaudit.simulator.exchanges import Exchange
from regaudit.simulator.organisation import NGINX_POD
from regaudit.simulator.primitives import LocalClock, hex_id, uuid4
from regaudit.simulator.wire import Event

NGINX_401 = 179
NGINX_403 = 153
TEXT_HTML = "text/html"
JSON_UTF8 = "application/json; charset=utf-8"
OCTET = "application/octet-stream"


@dataclass(slots=True)
class Replica:
    """One registry process: ``source.addr``, its pod address, and its instance ids over time (restarts)."""

    source_addr: str
    upstream: str
    weight: int
    clock: LocalClock | None = None
    restarts: list[int] = field(default_factory=list)
    instances: list[str] = field(default_factory=list)

    def restart(self, at_ns: int, instance_id: str) -> None:
        """The process restarts at ``at_ns`` and reports ``instance_id`` from then on."""
        index = bisect_right(self.restarts, at_ns)
        self.restarts.insert(index, at_ns)
        self.instances.insert(index + 1, instance_id)

    def instance_at(self, ns: int) -> str:
        return self.instances[bisect_right(self.restarts, ns)]

    def offset_minutes(self, ns: int) -> int:
        return self.clock.offset_minutes(ns) if self.clock else 0


@dataclass(slots=True)
class Registry:
    host: str
    replicas: list[Replica]
    direct_host: str = "registry.registry.svc.cluster.local:5000"
    total_weight: int = 0

    def pick(self, rng: Random) -> Replica:
        """A replica, as nginx's weighted round robin spreads requests."""
        point = rng.random() * self.total_weight
        for replica in self.replicas:
            point -= replica.weight
            if point < 0:
                return replica
        return self.replicas[-1]

    def __post_init__(self) -> None:
        self.total_weight = sum(replica.weight for replica in self.replicas)


class Timeline:
    """Changes to the registry's state waiting for their moment, applied in time order."""

    def __init__(self) -> None:
        self._due: list[tuple[int, int, Callable[[], object]]] = []
        self._sequence = itertools.count()

    def defer(self, at_ns: int, change: Callable[[], object]) -> None:
        heapq.heappush(self._due, (at_ns, next(self._sequence), change))

    def settle(self, now_ns: int) -> None:
        while self._due and self._due[0][0] <= now_ns:
            heapq.heappop(self._due)[2]()


@dataclass(slots=True)
class Client:
    """A client as both ends see it. ``addr`` is what the registry reports; ``remote_addr``/``xff`` nginx's
    view."""

    actor: str
    addr: str
    remote_addr: str
    user_agent: str
    style: str
    xff: str = ""
    tls: str = "TLSv1.3"
    proxied: bool = True
    public_location: bool = False
    header_bytes: int = 260
    bandwidth: float = 80e6


class Session:
    """Builds one client's requests in time order; each request is an ``Exchange`` with its events.

    What a request changes in the registry (a tag moved, a manifest deleted) takes effect when the request
    ends, not when the session is generated: ``defer`` hands the change to the world's timeline, which the
    engine settles up to each plan's start (so what a plan picks from is the registry at its start), and
    flows read tags at the session's own clock (``Repository.tag_at``). Without a timeline (a bare session)
    changes apply at once.
    """

    def __init__(self, registry: Registry, rng: Random, client: Client, start_ns: int) -> None:
        self.registry = registry
        self.rng = rng
        self.client = client
        self.now = start_ns
        self.exchanges: list[Exchange] = []
        self._port = rng.randrange(32768, 60000)
        self.timeline: Timeline | None = None

    def defer(self, at_ns: int, change: Callable[[], object]) -> None:
        if self.timeline is None:
            change()
        else:
            self.timeline.defer(at_ns, change)

    @property
    def base_url(self) -> str:
        if not self.client.proxied:
            return "http://" + self.registry.direct_host
        return ("http://" if self.client.public_location else "https://") + self.registry.host

    def wait(self, seconds: float) -> None:
        self.now += int(seconds * 1e9)

    def request(
        self,
        method: str,
        uri: str,
        status: int,
        *,
        sent: int = 0,
        body: int = 0,
        upstream: bool = True,
        user: str | None = None,
    ) -> tuple[Exchange, Replica | None]:
        """Append one request; the clock moves past its end plus a little client think time."""
        rng, client = self.rng, self.client
        exchange = Exchange(self.now, method, uri, status)
        replica = self.registry.pick(rng) if upstream else None
        service = int(rng.uniform(0.8, 6.0) * 1e6) + int((sent + body) / client.bandwidth * 1e9)
        exchange.sent = sent
        exchange.upstream_ns = service if upstream else 0
        exchange.duration_ns = service + int(rng.uniform(0.1, 0.9) * 1e6)
        exchange.req_id = hex_id(rng)
        exchange.remote_addr = client.remote_addr
        exchange.xff = client.xff
        name = client.actor if user is None else user
        exchange.remote_user = name
        exchange.actor = name
        exchange.auth = "basic" if name else "none"
        exchange.user_agent = client.user_agent
        exchange.request_length = len(method) + len(uri) + client.header_bytes + body + (40 if name else 0)
        exchange.tls = client.tls
        exchange.logged = client.proxied
        if replica is not None:
            exchange.upstream = replica.upstream
        self.exchanges.append(exchange)
        self.now = exchange.start_ns + exchange.duration_ns + int(rng.uniform(0.5, 25.0) * 1e6)
        return exchange, replica

    def event(
        self,
        exchange: Exchange,
        replica: Replica | None,
        action: str,
        repository: str,
        *,
        media_type: str | None = None,
        size: int | None = None,
        digest: str | None = None,
        tag: str | None = None,
        url: str | None = None,
        from_repository: str | None = None,
        request_id: str | None = None,
    ) -> Event:
        """The registry event ``exchange`` caused, stamped while its handler ran."""
        assert replica is not None, "only requests that reached the registry produce events"
        rng, client = self.rng, self.client
        ts = exchange.start_ns + int(exchange.upstream_ns * rng.uniform(0.5, 0.95))
        if exchange.events:
            ts = max(ts, exchange.events[-1].ts_ns + rng.randrange(200_000, 1_500_000))
        request_id = request_id or (exchange.events[0].request_id if exchange.events else uuid4(rng))
        event = Event(
            uuid4(rng),
            ts,
            action,
            repository,
            request_id,
            exchange.method,
            client.actor,
            media_type=media_type,
            size=size,
            digest=digest,
            from_repository=from_repository,
            url=url,
            tag=tag,
        )
        event.addr = client.addr if client.proxied and not client.public_location else self._port_addr()
        event.host = self.registry.direct_host if not client.proxied else self.registry.host
        event.user_agent = client.user_agent
        event.source_addr = replica.source_addr
        event.instance_id = replica.instance_at(ts)
        event.offset_minutes = replica.offset_minutes(ts)
        exchange.events.append(event)
        return event

    def _port_addr(self) -> str:
        self._port = self._port + 1 if self._port < 60999 else 32768
        source = self.client.addr if not self.client.proxied else NGINX_POD
        return f"{source}:{self._port}"

    # -- responses nginx gives by itself -------------------------------------------------------------------

    def challenge(self, uri: str = "/v2/", method: str = "GET") -> Exchange:
        """A first request without credentials (``GET /v2/`` for most clients, the manifest itself for
        containerd): nginx answers 401 with a Basic challenge and the client retries with credentials."""
        sent = NGINX_401 if method == "GET" else 0
        exchange, _ = self.request(method, uri, 401, sent=sent, upstream=False, user="")
        exchange.resp_ct, exchange.www_auth = TEXT_HTML, 'Basic realm="registry"'
        return exchange

    def rejected(self, uri: str, user: str, method: str = "GET") -> Exchange:
        """A wrong password for ``user``: nginx 401, the claimed user still logged as ``$remote_user``."""
        exchange, _ = self.request(method, uri, 401, sent=NGINX_401, upstream=False, user=user)
        exchange.resp_ct, exchange.www_auth = TEXT_HTML, 'Basic realm="registry"'
        return exchange

    def forbidden(self, uri: str, method: str = "GET") -> Exchange:
        """An nginx ``deny`` for this user and path: 403, never proxied."""
        exchange, _ = self.request(method, uri, 403, sent=NGINX_403, upstream=False)
        exchange.resp_ct = TEXT_HTML
        return exchange
