"""Small OCI image layouts built on disk in pure Python, with every digest known in advance.

:func:`build_image` writes a single-platform image of several gzip layers; :func:`build_index` writes an OCI
image index over linux/amd64 and linux/arm64 images. Content is random but seeded, and tar and gzip headers
carry fixed times, so the same arguments give the same digests on every run; a different seed or platform
gives different layers. ``skopeo copy oci:<dir>:<tag> docker://...`` pushes the bytes unchanged, so the
digests returned here are the ones the registry reports.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
_FIXED_TIME = 1_746_057_600  # 2025-05-01T00:00:00Z
_FIXED_CREATED = "2025-05-01T00:00:00Z"


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str

    def to_json(self) -> dict[str, str]:
        return {"architecture": self.architecture, "os": self.os}


AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")


@dataclass(frozen=True)
class BuiltImage:
    """An image manifest in a layout: ``layers`` are the gzip blobs, ``diff_ids`` their tars' digests."""

    layout: Path
    tag: str | None
    platform: Platform
    manifest: Descriptor
    config: Descriptor
    layers: tuple[Descriptor, ...]
    diff_ids: tuple[str, ...]

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        """Config then layers: every blob a push uploads."""
        return (self.config, *self.layers)

    @property
    def reference(self) -> str:
        """``oci:<layout>:<tag>`` for skopeo."""
        if self.tag is None:
            raise ValueError("an untagged image (an index child) has no oci: reference")
        return f"oci:{self.layout}:{self.tag}"


@dataclass(frozen=True)
class BuiltIndex:
    """An OCI image index written to a layout, with its per-platform images."""

    layout: Path
    tag: str
    index: Descriptor
    images: tuple[BuiltImage, ...]

    @property
    def reference(self) -> str:
        return f"oci:{self.layout}:{self.tag}"

    def image_for(self, platform: Platform) -> BuiltImage:
        return next(image for image in self.images if image.platform == platform)


class OciLayout:
    """An OCI image layout directory: ``oci-layout``, ``index.json`` and ``blobs/sha256/``."""

    def __init__(self, path: Path):
        self.path = path
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        if not (path / "index.json").exists():
            self._write_index([])

    def write_blob(self, data: bytes, media_type: str) -> Descriptor:
        hexdigest = hashlib.sha256(data).hexdigest()
        (self.path / "blobs" / "sha256" / hexdigest).write_bytes(data)
        return Descriptor(media_type, f"sha256:{hexdigest}", len(data))

    def tag(self, descriptor: Descriptor, tag: str, platform: Platform | None = None) -> None:
        """List ``descriptor`` in ``index.json`` under ``tag`` (replacing an earlier entry with that tag)."""
        entries = [e for e in self._read_index() if e.get("annotations", {}).get(REF_NAME) != tag]
        entry = {**descriptor.to_json(), "annotations": {REF_NAME: tag}}
        if platform is not None:
            entry["platform"] = platform.to_json()
        self._write_index([*entries, entry])

    def _read_index(self) -> list[dict[str, Any]]:
        return list(json.loads((self.path / "index.json").read_text())["manifests"])

    def _write_index(self, manifests: list[dict[str, Any]]) -> None:
        index = {"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": manifests}
        (self.path / "index.json").write_text(json.dumps(index, indent=2))


def build_image(
    layout_dir: Path,
    tag: str | None,
    *,
    seed: str,
    layer_count: int = 3,
    files_per_layer: int = 3,
    platform: Platform = AMD64,
) -> BuiltImage:
    """Write an image of ``layer_count`` layers to ``layout_dir``, listed as ``tag`` unless that is None."""
    layout = OciLayout(layout_dir)
    layer_tars = [
        _layer_tar(random.Random(f"{seed}/{platform.architecture}/{n}"), n, files_per_layer) for n in range(layer_count)
    ]
    layers = tuple(layout.write_blob(gzip.compress(tar, mtime=0), LAYER_TYPE) for tar in layer_tars)
    diff_ids = tuple(f"sha256:{hashlib.sha256(tar).hexdigest()}" for tar in layer_tars)
    config = layout.write_blob(_canonical_json(_image_config(platform, diff_ids, seed)), CONFIG_TYPE)
    manifest_json = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": config.to_json(),
        "layers": [layer.to_json() for layer in layers],
        "annotations": {"org.opencontainers.image.created": _FIXED_CREATED},
    }
    manifest = layout.write_blob(_canonical_json(manifest_json), MANIFEST_TYPE)
    if tag is not None:
        layout.tag(manifest, tag)
    return BuiltImage(layout_dir, tag, platform, manifest, config, layers, diff_ids)


def build_index(
    layout_dir: Path,
    tag: str,
    *,
    seed: str,
    platforms: tuple[Platform, ...] = (AMD64, ARM64),
    layer_count: int = 2,
) -> BuiltIndex:
    """Write one image per platform (untagged) and an OCI image index over them, tagged ``tag``."""
    images = tuple(
        build_image(layout_dir, None, seed=seed, layer_count=layer_count, platform=platform) for platform in platforms
    )
    index_json = {
        "schemaVersion": 2,
        "mediaType": INDEX_TYPE,
        "manifests": [{**image.manifest.to_json(), "platform": image.platform.to_json()} for image in images],
    }
    layout = OciLayout(layout_dir)
    index = layout.write_blob(_canonical_json(index_json), INDEX_TYPE)
    layout.tag(index, tag)
    return BuiltIndex(layout_dir, tag, index, images)


def _layer_tar(rng: random.Random, layer_number: int, file_count: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directory = f"layer{layer_number}"
        tar.addfile(_tar_info(directory, tarfile.DIRTYPE, 0o755, 0))
        for n in range(file_count):
            data = rng.randbytes(rng.randint(64, 4096))
            tar.addfile(_tar_info(f"{directory}/file{n}.bin", tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    return buffer.getvalue()


def _tar_info(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, _FIXED_TIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _image_config(platform: Platform, diff_ids: tuple[str, ...], seed: str) -> dict[str, Any]:
    return {
        "created": _FIXED_CREATED,
        **platform.to_json(),
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Labels": {"regaudit.test.seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": [
            {"created": _FIXED_CREATED, "created_by": f"tests.infra.oci layer {n}"} for n in range(len(diff_ids))
        ],
    }


def _canonical_json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
