"""Small deterministic building blocks: random ids and digests, wire time formats, addresses.

Time inside the simulator is an ``int`` of nanoseconds since the Unix epoch (UTC): cheap to sort, exact to the
nanosecond like the registry's ``time.Now()``. Every random value comes from a ``random.Random`` handed in by
the caller, so a seed fixes the whole output.
"""

from __future__ import annotations

import ipaddress
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from random import Random
from zoneinfo import ZoneInfo

NS = 1_000_000_000
MINUTE = 60 * NS
HOUR = 3600 * NS
DAY = 86400 * NS
_UUID_CLEAR = ~((0xF << 76) | (0x3 << 62))
_UUID_SET = (0x4 << 76) | (0x2 << 62)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def uuid4(rng: Random) -> str:
    """A random (version 4) UUID in its canonical text form."""
    text = f"{(rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def hex_id(rng: Random, chars: int = 32) -> str:
    """Lower-case hex of ``chars`` random digits (nginx ``$request_id`` is 32)."""
    return f"{rng.getrandbits(chars * 4):0{chars}x}"


def new_digest(rng: Random) -> str:
    return f"sha256:{rng.getrandbits(256):064x}"


def seeded(seed: int | str) -> Random:
    """A generator for one stream of the simulation (not for secrets: the point is reproducibility)."""
    return Random(seed)  # noqa: S311


def to_ns(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("simulation times must carry a time zone")
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * NS + delta.microseconds * 1000


def to_datetime(ns: int) -> datetime:
    """UTC datetime of ``ns`` (microsecond precision, like every Python datetime)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


@lru_cache(maxsize=4096)
def _utc_second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def _fraction(ns: int) -> str:
    fraction = ns % NS
    return "." + f"{fraction:09d}".rstrip("0") if fraction else ""


def rfc3339_nano(ns: int, offset_minutes: int = 0) -> str:
    """Go's ``time.RFC3339Nano``: trailing zeros of the fraction trimmed, ``Z`` for UTC, else ``+hh:mm``."""
    if offset_minutes == 0:
        return _utc_second(ns // NS) + _fraction(ns) + "Z"
    local = ns + offset_minutes * MINUTE
    sign = "+" if offset_minutes > 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{_utc_second(local // NS)}{_fraction(local)}{sign}{hours:02d}:{minutes:02d}"


def iso_seconds(ns: int) -> str:
    """nginx ``$time_iso8601`` on a host running in UTC."""
    return _utc_second(ns // NS) + "+00:00"


def epoch_millis(ns: int) -> str:
    """nginx ``$msec``: seconds with milliseconds."""
    millis = ns // 1_000_000
    seconds, rest = divmod(millis, 1000)
    return f"{seconds}.{rest:03d}"


@lru_cache(maxsize=4096)
def time_local(seconds: int) -> str:
    """nginx ``$time_local`` on a host running in UTC, e.g. ``01/May/2025:12:00:03 +0000``."""
    parts = time.gmtime(seconds)
    month = _MONTHS[parts.tm_mon - 1]
    clock = f"{parts.tm_hour:02d}:{parts.tm_min:02d}:{parts.tm_sec:02d}"
    return f"{parts.tm_mday:02d}/{month}/{parts.tm_year:04d}:{clock} +0000"


class LocalClock:
    """Offsets and wall-clock fields of one IANA zone, cached per hour (DST-correct, fast)."""

    def __init__(self, zone: str) -> None:
        self.zone = ZoneInfo(zone)
        self._offsets: dict[int, int] = {}

    def offset_minutes(self, ns: int) -> int:
        hour = ns // HOUR
        cached = self._offsets.get(hour)
        if cached is None:
            offset = to_datetime(hour * HOUR).astimezone(self.zone).utcoffset()
            cached = int(offset.total_seconds()) // 60 if offset else 0
            self._offsets[hour] = cached
        return cached

    def local_weekday(self, ns: int) -> int:
        """Monday 0 .. Sunday 6, in local time."""
        local = ns + self.offset_minutes(ns) * MINUTE
        return (local // DAY + 3) % 7

    def local_day_of_month(self, ns: int) -> int:
        """1 .. 31, in local time."""
        local = ns + self.offset_minutes(ns) * MINUTE
        return time.gmtime(local // NS).tm_mday

    def at_local(self, day_start_ns: int, hours: float) -> int:
        """The UTC instant of ``hours`` after local midnight of the UTC day starting at ``day_start_ns``."""
        guess = day_start_ns + int(hours * HOUR)
        return guess - self.offset_minutes(guess) * MINUTE


def address_in(rng: Random, cidr: str) -> str:
    """A random host address inside ``cidr`` (never the network or broadcast address)."""
    network = _network(cidr)
    span = network.num_addresses - 2
    return str(network.network_address + 1 + rng.randrange(span))


@lru_cache(maxsize=256)
def _network(cidr: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(cidr)


#: Provider blocks public clients and attackers come from (addresses are made up inside them).
PUBLIC_BLOCKS = (
    "31.13.64.0/18",
    "45.83.64.0/22",
    "62.210.0.0/16",
    "78.46.0.0/15",
    "91.198.174.0/24",
    "104.16.0.0/13",
    "138.68.0.0/16",
    "146.190.0.0/16",
    "159.89.0.0/16",
    "185.220.100.0/22",
    "188.166.0.0/16",
    "193.32.160.0/22",
)


def public_address(rng: Random) -> str:
    return address_in(rng, rng.choice(PUBLIC_BLOCKS))


def lognormal_int(rng: Random, median: float, sigma: float, low: int, high: int) -> int:
    """An integer log-normally spread around ``median``, clamped to ``[low, high]``."""
    value = int(rng.lognormvariate(0.0, sigma) * median)
    return min(max(value, low), high)
