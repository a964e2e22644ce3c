"""The registry's content: repositories, images (blobs, manifests, multi-platform indexes) and tags.

Repositories by kind: ``service`` (a team's deployable images, CI-only; production ones are protected),
``base`` (multi-platform base images rebuilt nightly under immutable dated tags), ``public`` (anonymous
pulls), ``tool`` (CI-built internal tools, partly unsigned) and ``sandbox`` (where humans push). Tags that
move in normal traffic are ``latest``, ``main`` and cosign ``sha256-<hex>.sig`` tags; release tags
(``vX.Y.Z``) and dated base tags never move unless an incident moves them.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from random import Random

from regaudit.simulator.primitives import lognormal_int, new_digest

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
PLATFORMS = ("amd64", "arm64")
MB = 1 << 20


@dataclass(slots=True, eq=False)
class Blob:
    digest: str
    size: int


@dataclass(slots=True, eq=False)
class Manifest:
    """An image manifest (``config`` and ``layers``) or an index (``children``, one per platform)."""

    digest: str
    media_type: str
    size: int
    config: Blob | None = None
    layers: tuple[Blob, ...] = ()
    children: tuple[Manifest, ...] = ()

    @property
    def platform_manifests(self) -> tuple[Manifest, ...]:
        return self.children or (self,)

    def blobs(self) -> list[Blob]:
        found: list[Blob] = []
        for child in self.platform_manifests:
            if child.config is not None:
                found.append(child.config)
            found.extend(child.layers)
        return found


@dataclass(slots=True, eq=False)
class Repository:
    name: str
    team: str
    kind: str
    production: bool = False
    restricted: bool = False
    multi_arch: bool = False
    oci: bool = True
    base: str | None = None
    weight: float = 1.0
    signed_share: float = 1.0
    flavour: str = ""
    tags: dict[str, Manifest] = field(default_factory=dict)
    history: dict[str, list[str]] = field(default_factory=dict)  # tag: digests pushed in the window
    manifests: dict[str, Manifest] = field(default_factory=dict)
    blobs: set[str] = field(default_factory=set)
    signatures: dict[str, Manifest] = field(default_factory=dict)
    releases: list[str] = field(default_factory=list)
    version: list[int] = field(default_factory=lambda: [1, 0, 0])
    fixed_layers: dict[str, list[Blob]] = field(default_factory=dict)
    moves: dict[str, list[tuple[int, Manifest | None]]] = field(default_factory=dict)  # tag: (when, target)

    @property
    def manifest_type(self) -> str:
        return OCI_MANIFEST if self.oci else DOCKER_MANIFEST

    @property
    def index_type(self) -> str:
        return OCI_INDEX if self.oci else DOCKER_LIST

    def store(self, manifest: Manifest, tag: str | None = None, pushed: bool = False) -> None:
        """Record a manifest (and its children and blobs) and move ``tag`` to it; ``pushed`` when a push
        in the window did so (``history`` holds only what the window's events show)."""
        self.manifests[manifest.digest] = manifest
        for child in manifest.children:
            self.manifests[child.digest] = child
        self.blobs.update(blob.digest for blob in manifest.blobs())
        if tag is not None:
            self.tags[tag] = manifest
        if tag is not None and pushed:
            seen = self.history.setdefault(tag, [])
            if not seen or seen[-1] != manifest.digest:
                seen.append(manifest.digest)

    def untag_digest(self, digest: str) -> list[str]:
        """Delete a manifest by digest: drop it and every tag pointing at it; returns those tags."""
        gone = [tag for tag, manifest in self.tags.items() if manifest.digest == digest]
        for tag in gone:
            del self.tags[tag]
        self.manifests.pop(digest, None)
        return gone

    def record(self, tag: str, at_ns: int, target: Manifest | None) -> None:
        """Note that ``tag`` moves to ``target`` (None: is deleted) at ``at_ns``, whenever that move was
        generated: ``tag_at`` answers for any moment, so a session sees the registry as of its own clock."""
        moves = self.moves.setdefault(tag, [(-1, self.tags.get(tag))])
        moves.insert(bisect_right(moves, at_ns, key=lambda move: move[0]), (at_ns, target))

    def tag_at(self, tag: str, at_ns: int) -> Manifest | None:
        """What ``tag`` pointed at at ``at_ns`` (as far as the sessions generated so far moved it)."""
        moves = self.moves.get(tag)
        if moves is None:
            return self.tags.get(tag)
        return moves[bisect_right(moves, at_ns, key=lambda move: move[0]) - 1][1]

    def tags_at(self, at_ns: int) -> list[str]:
        """Every tag that exists at ``at_ns``."""
        names = dict.fromkeys([*self.tags, *self.moves])
        return [tag for tag in names if self.tag_at(tag, at_ns) is not None]

    def tagged_releases(self) -> list[str]:
        """Releases whose tag exists now (a release being pushed is listed before its tag lands)."""
        return [tag for tag in self.releases if tag in self.tags]

    def next_version(self, rng: Random) -> str:
        major, minor, patch = self.version
        if rng.random() < 0.25:
            minor, patch = minor + 1, 0
        else:
            patch += 1
        self.version = [major, minor, patch]
        return f"v{major}.{minor}.{patch}"

    def prune(self, keep: int = 40) -> None:
        """Forget old ``sha-`` build tags and untagged images so long simulations stay small (state only:
        nothing is emitted, as if garbage collection ran)."""
        builds = [tag for tag in self.tags if tag.startswith("sha-")]
        for tag in builds[:-keep]:
            del self.tags[tag]
            self.history.pop(tag, None)
            self.moves.pop(tag, None)
        if len(self.manifests) < 8 * keep:
            return
        live: dict[str, Manifest] = {}
        recent = [self.manifests[d] for d in self.history.get("latest", [])[-4:] if d in self.manifests]
        for image in (*self.tags.values(), *recent):
            live[image.digest] = image
            live.update((child.digest, child) for child in image.children)
        self.manifests = live
        self.signatures = {digest: sig for digest, sig in self.signatures.items() if digest in live}
        self.blobs = {blob.digest for image in live.values() for blob in image.blobs()}


def signature_tag(digest: str) -> str:
    return "sha256-" + digest.removeprefix("sha256:") + ".sig"


def _manifest_size(layers: int, rng: Random) -> int:
    return 260 + 165 * layers + rng.randrange(0, 40)


def _layer(rng: Random, median_mb: float, sigma: float = 0.8) -> Blob:
    size = lognormal_int(rng, median_mb * MB, sigma, 2_000, 8_000 * MB)
    return Blob(new_digest(rng), size)


def _config(rng: Random) -> Blob:
    return Blob(new_digest(rng), rng.randrange(1_400, 9_000))


def _platform_image(repo: Repository, rng: Random, platform: str, base_layers: tuple[Blob, ...]) -> Manifest:
    """One platform's manifest: the base layers, a dependency layer (often reused) and a fresh app layer."""
    previous = repo.fixed_layers.get(platform)
    if previous is None or rng.random() < 0.3:
        previous = [_layer(rng, 30 * repo.weight)]
        repo.fixed_layers[platform] = previous
    layers = (*base_layers, *previous, _layer(rng, 6 * repo.weight))
    return Manifest(new_digest(rng), repo.manifest_type, _manifest_size(len(layers), rng), _config(rng), layers)


def _base_layers(repo: Repository, rng: Random, platform: str) -> tuple[Blob, ...]:
    """A base image's own layers: fixed OS and runtime layers plus tonight's patch layer."""
    key = "os-" + platform
    if key not in repo.fixed_layers:
        repo.fixed_layers[key] = [_layer(rng, 25), _layer(rng, 45 * repo.weight)]
    return (*repo.fixed_layers[key], _layer(rng, 4, 0.6))


def build_image(repo: Repository, rng: Random, base: Manifest | None) -> Manifest:
    """A freshly built image for ``repo`` (an index when the repository is multi-platform)."""
    platforms = PLATFORMS if repo.multi_arch else PLATFORMS[:1]
    children = []
    for number, platform in enumerate(platforms):
        if repo.kind == "base":
            layers = _base_layers(repo, rng, platform)
            child = Manifest(new_digest(rng), repo.manifest_type, _manifest_size(3, rng), _config(rng), layers)
        else:
            source = base.platform_manifests if base is not None else ()
            inherited = source[min(number, len(source) - 1)].layers if source else ()
            child = _platform_image(repo, rng, platform, inherited)
        children.append(child)
    if not repo.multi_arch:
        return children[0]
    size = 90 + 245 * len(children) + rng.randrange(0, 30)
    return Manifest(new_digest(rng), repo.index_type, size, children=tuple(children))


def build_signature(rng: Random, previous: Manifest | None) -> Manifest:
    """A cosign ``.sig`` manifest: one simple-signing layer per signature, appended to any earlier ones."""
    layers = (*(previous.layers if previous else ()), Blob(new_digest(rng), rng.randrange(228, 262)))
    size = 250 + 330 * len(layers) + rng.randrange(0, 25)
    return Manifest(new_digest(rng), OCI_MANIFEST, size, Blob(new_digest(rng), rng.randrange(233, 251)), layers)
