"""The registry scenario of issue 3, played by real clients against a running stack.

skopeo (Debian 1.9.3) pushes, pulls, copies, inspects and deletes; curl sends what skopeo 1.9.3 never does: a
manifest ``HEAD`` check (its ``inspect`` only GETs), a blob GET by digest with no manifest request, and bare
requests with a wrong password, on a manifest and on the login endpoint ``GET /v2/`` (what ``docker login`` checks
a password with). curl binds to its own loopback address (``127.0.0.42``, ``127.0.0.66``, ``127.0.0.77``), so
those requests come from other clients than skopeo's ``127.0.0.1``, and the registry learns that address only from
nginx's ``X-Forwarded-For``.

Every step records its wall-clock window, so a test can say *when* something must have happened.
"""

from __future__ import annotations

import platform
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.infra.oci import AMD64, ARM64, BuiltImage, BuiltIndex, Descriptor, build_image, build_index
from tests.infra.stack import RegistryStack

USERS = {"ci-bot": "ci-bot-secret-1", "alice": "alice-secret-2", "bob": "bob-secret-3"}
WRONG_PASSWORD_TRIES = 3  # on a manifest
LOGIN_GUESSES = 10  # on GET /v2/: proxy.bruteforce_by_client fires at 10 failed logins from one address
HEAD_CLIENT = "127.0.0.42"  # alice's update check
GUESSING_CLIENT = "127.0.0.66"  # someone trying bob's account
BLOB_CLIENT = "127.0.0.77"  # bob fetching a layer by its digest, with no manifest request
MANIFEST_ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"


@dataclass(frozen=True)
class Images:
    """What the scenario pushes: three single-platform images and a two-platform index."""

    app_1: BuiltImage
    app_2: BuiltImage
    hotfix: BuiltImage
    multi: BuiltIndex

    @classmethod
    def build(cls, directory: Path) -> Images:
        return cls(
            app_1=build_image(directory / "app-1", "v1", seed="e2e-app-1", layer_count=3),
            app_2=build_image(directory / "app-2", "v1", seed="e2e-app-2", layer_count=3),
            hotfix=build_image(directory / "hotfix", "v1", seed="e2e-hotfix", layer_count=2),
            multi=build_index(directory / "multi", "1.0", seed="e2e-multi"),
        )

    @property
    def native(self) -> BuiltImage:
        """The platform a plain ``skopeo copy`` of the index picks on this machine."""
        return self.multi.image_for(ARM64 if platform.machine() in ("aarch64", "arm64") else AMD64)

    def names(self) -> dict[str, str]:
        """Digest to a readable name: manifests by image, blobs as ``<image> <kind>``."""
        names: dict[str, str] = {self.multi.index.digest: "multi"}
        singles = {"app-1": self.app_1, "app-2": self.app_2, "hotfix": self.hotfix}
        singles |= {f"multi/{image.platform.architecture}": image for image in self.multi.images}
        for name, image in singles.items():
            names[image.manifest.digest] = name
            names[image.config.digest] = f"{name} config"
            names |= {layer.digest: f"{name} layer{n}" for n, layer in enumerate(image.layers)}
        return names

    def blob_bytes(self, name: str) -> int:
        """Bytes of the blobs a readable name stands for: ``app-2`` (all), ``app-2 config``, ``multi`` (both)."""
        image_name, _, part = name.partition(" ")
        images = list(self.multi.images) if image_name == "multi" else [self._image(image_name)]
        blobs: list[Descriptor] = [blob for image in images for blob in image.blobs]
        if part == "config":
            blobs = [image.config for image in images]
        elif part.startswith("layer"):
            blobs = [image.layers[int(part.removeprefix("layer"))] for image in images]
        return sum(blob.size for blob in blobs)

    def manifest_size(self, digest: str) -> int:
        if digest == self.multi.index.digest:
            return self.multi.index.size
        images = [self.app_1, self.app_2, self.hotfix, *self.multi.images]
        return next(image.manifest.size for image in images if image.manifest.digest == digest)

    def _image(self, name: str) -> BuiltImage:
        if name.startswith("multi/"):
            return next(i for i in self.multi.images if i.platform.architecture == name.removeprefix("multi/"))
        return {"app-1": self.app_1, "app-2": self.app_2, "hotfix": self.hotfix}[name]


@dataclass
class ScenarioRun:
    """The wall-clock window (epoch seconds) of each step, by name."""

    windows: dict[str, tuple[float, float]] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.time()
        yield
        self.windows[name] = (started, time.time())


def play(stack: RegistryStack, images: Images, scratch: Path, before_overwrite: Callable[[], None]) -> ScenarioRun:
    """Run the scenario; ``before_overwrite`` is called right before alice overwrites the release tag."""
    skopeo, run = stack.skopeo, ScenarioRun()
    scratch.mkdir(parents=True, exist_ok=True)
    ci, alice, bob = stack.creds("ci-bot"), stack.creds("alice"), stack.creds("bob")
    with run.step("ci-bot pushes"):
        skopeo.push(images.app_1, "team/app", "v1.0.0", ci, check=True)
        skopeo.push(images.app_2, "team/app", "v1.1.0", ci, check=True)
        skopeo.push(images.app_2, "team/app", "latest", ci, check=True)
        skopeo.push(images.multi, "team/multi", "1.0", ci, check=True)
    with run.step("people pull"):
        skopeo.pull("team/app", "v1.0.0", f"oci:{scratch / 'alice-app'}:v1.0.0", alice, check=True)
        skopeo.pull("team/app", images.app_2.manifest.digest, f"dir:{scratch / 'bob-app'}", bob, check=True)
        skopeo.pull("team/multi", "1.0", f"oci:{scratch / 'alice-multi'}:1.0", alice, all_images=True, check=True)
        skopeo.pull("team/multi", "1.0", f"oci:{scratch / 'bob-multi'}:1.0", bob, check=True)
    before_overwrite()
    with run.step("alice overwrites v1.0.0"):
        skopeo.push(images.hotfix, "team/app", "v1.0.0", alice, check=True)
    with run.step("ci-bot copies"):
        skopeo.copy_within(("team/app", "v1.1.0"), ("other/app", "copied"), ci, check=True)
    with run.step("alice deletes"):
        skopeo.delete("other/app", "copied", alice, check=True)
    with run.step("wrong password"):
        for _ in range(WRONG_PASSWORD_TRIES):
            assert _curl(stack, "GET", "team/app", "v1.1.0", ("bob", "not-bobs-password"), GUESSING_CLIENT) == 401
        for n in range(LOGIN_GUESSES):
            assert _request(stack, "GET", "/v2/", ("bob", f"bob-guess-{n}"), GUESSING_CLIENT) == 401
    with run.step("missing tag and repository"):
        assert "manifest unknown" in skopeo.inspect("team/app", "nosuchtag", alice).stderr
        assert "manifest unknown" in skopeo.inspect("nosuch/repo", "latest", alice).stderr
    with run.step("alice inspects"):
        skopeo.inspect("team/app", "latest", alice, raw=False, check=True)
    with run.step("bob fetches a layer by digest"):  # what someone holding a leaked digest does
        layer = images.app_1.layers[0].digest
        assert _request(stack, "GET", f"/v2/team/app/blobs/{layer}", bob, BLOB_CLIENT) == 200
    with run.step("alice checks"):
        assert _curl(stack, "HEAD", "team/app", "v1.1.0", alice, HEAD_CLIENT) == 200
    return run


def _curl(
    stack: RegistryStack, method: str, repository: str, reference: str, creds: tuple[str, str], source: str
) -> int:
    """One manifest request with curl from ``source``; returns the HTTP status."""
    return _request(stack, method, f"/v2/{repository}/manifests/{reference}", creds, source)


def _request(stack: RegistryStack, method: str, path: str, creds: tuple[str, str], source: str) -> int:
    """One request for ``path`` with curl from ``source``; returns the HTTP status."""
    argv = [
        "curl", "--silent", "--show-error", "--output", "/dev/null", "--write-out", "%{http_code}",
        *(["--head"] if method == "HEAD" else ["--request", method]),
        "--interface", source, "--cacert", str(stack.nginx.ca_cert_path), "--user", ":".join(creds),
        "--header", f"Accept: {MANIFEST_ACCEPT}",
        f"{stack.url}{path}",
    ]  # fmt: skip
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    return int(completed.stdout)
