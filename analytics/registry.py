"""Finds the detections and refuses bad ones: one ``Detection`` subclass per module under
``regaudit.analytics.detections.<family>.<name>``, whose id is ``<family>.<name>``.

Every detection's metadata is validated when it is registered (``Detection.meta``), and a second detection
with an id already taken is refused (pypanther ``registry.py``). ``select`` filters by id, family or glob.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Iterator, Sequence
from fnmatch import fnmatchcase
from functools import lru_cache
from types import ModuleType

from regaudit.analytics.detection import Detection
from regaudit.analytics.errors import DetectionMetadataError, DuplicateDetectionError, UnknownDetectionError

PACKAGE = "regaudit.analytics.detections"


class DetectionRegistry:
    """Detections by id, in registration order."""

    def __init__(self, detections: Iterable[type[Detection]] = ()) -> None:
        self._by_id: dict[str, type[Detection]] = {}
        for detection in detections:
            self.register(detection)

    def register(self, detection: type[Detection]) -> None:
        meta = detection.meta()
        if meta.id in self._by_id:
            other = self._by_id[meta.id]
            raise DuplicateDetectionError(
                f"detection id {meta.id!r} claimed by {detection.__module__} and {other.__module__}"
            )
        self._by_id[meta.id] = detection

    def __iter__(self) -> Iterator[type[Detection]]:
        return iter(sorted(self._by_id.values(), key=lambda d: d.id))

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, detection_id: object) -> bool:
        return detection_id in self._by_id

    def get(self, detection_id: str) -> type[Detection]:
        try:
            return self._by_id[detection_id]
        except KeyError:
            raise UnknownDetectionError(f"no detection {detection_id!r}") from None

    def select(self, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[type[Detection]]:
        """Detections matching any ``include`` pattern (all when empty) and no ``exclude`` pattern.

        A pattern is an id, a family or a glob over ids; one that matches nothing is an error.
        """
        for pattern in (*include, *exclude):
            if not any(_matches(d, pattern) for d in self):
                raise UnknownDetectionError(f"no detection matches {pattern!r}")
        return [
            d
            for d in self
            if (not include or any(_matches(d, p) for p in include)) and not any(_matches(d, p) for p in exclude)
        ]


def _matches(detection: type[Detection], pattern: str) -> bool:
    return pattern in (detection.id, detection.family) or fnmatchcase(detection.id, pattern)


def _detections_in(module: ModuleType) -> list[type[Detection]]:
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Detection)
        and value is not Detection
        and value.__module__ == module.__name__
    ]


def discover(package: str = PACKAGE) -> DetectionRegistry:
    """Import every module under ``package``; each must define exactly one detection named by its path."""
    registry = DetectionRegistry()
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if info.ispkg or info.name.rpartition(".")[2].startswith("_"):
            continue
        module = importlib.import_module(info.name)
        found = _detections_in(module)
        if len(found) != 1:
            raise DetectionMetadataError(f"{info.name}: defines {len(found)} detections, expected exactly one")
        expected = ".".join(info.name[len(package) + 1 :].split(".")[-2:])
        claimed = getattr(found[0], "id", None)
        if claimed != expected:
            raise DetectionMetadataError(f"{info.name}: id {claimed!r} should be {expected!r} (its path)")
        registry.register(found[0])
    return registry


@lru_cache(maxsize=1)
def default_registry() -> DetectionRegistry:
    """Every shipped detection, discovered once per process."""
    return discover()
