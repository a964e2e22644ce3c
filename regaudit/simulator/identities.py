"""Who uses the registry: humans, CI robots, production and staging clusters, the scanner and other
automation.

Normal behaviour is deliberately regular, so that injected incidents stand out: each identity keeps one user
agent, humans come from one office and one VPN address, automation only from its own networks, and every
credential is in date and rotated within the last year. The incident planner adds the stale ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random

from regaudit.simulator.model import CredentialKind, CredentialRow, Identity
from regaudit.simulator.organisation import (
    CI_NETWORKS,
    OFFICE,
    PROD_EU,
    PROD_US,
    STAGING,
    TOOLS,
    VPN,
    Organisation,
    Team,
)
from regaudit.simulator.primitives import DAY, address_in, to_datetime

FIRST_NAMES = (
    "anna",
    "ben",
    "carla",
    "david",
    "elena",
    "felix",
    "greta",
    "hugo",
    "ines",
    "jonas",
    "karin",
    "lukas",
    "maria",
    "nils",
    "olga",
    "paul",
    "quinn",
    "rosa",
    "sven",
    "tara",
    "uwe",
    "vera",
    "wim",
    "xenia",
    "yusuf",
    "zoe",
    "amir",
    "bianca",
    "chen",
    "dara",
    "emil",
    "fatima",
    "goran",
    "hana",
    "igor",
    "julia",
    "kofi",
    "lena",
    "mateo",
    "nora",
    "omar",
    "priya",
    "rafael",
    "sara",
    "tomas",
    "ula",
    "viktor",
    "wen",
    "yara",
    "zeno",
)
LAST_NAMES = (
    "schmidt",
    "meyer",
    "novak",
    "rossi",
    "garcia",
    "smith",
    "kowalski",
    "dubois",
    "jensen",
    "weber",
    "silva",
    "nakamura",
    "kim",
    "okafor",
    "larsen",
    "popescu",
    "horvat",
    "costa",
    "fischer",
    "bauer",
    "wagner",
    "keller",
    "martin",
    "lopez",
    "berg",
    "koch",
    "wolf",
    "richter",
    "klein",
    "hoffmann",
    "singh",
    "patel",
    "ivanova",
)
DOCKER_VERSIONS = (
    ("26.1.4", "go1.21.11"),
    ("27.2.0", "go1.21.13"),
    ("27.3.1", "go1.22.7"),
    ("27.4.0", "go1.22.10"),
)


@dataclass(slots=True, eq=False)
class Actor:
    """An identity with what its traffic looks like; ``created/rotated/expires`` feed the inventory."""

    name: str
    kind: CredentialKind
    role: str
    team: str
    user_agent: str
    client: str
    networks: tuple[str, ...]
    addresses: tuple[str, ...] = ()
    pusher: bool = False
    admin: bool = False
    interests: tuple[str, ...] = ()
    created_ns: int = 0
    rotated_ns: int | None = None
    expires_ns: int | None = None
    cache: set[str] = field(default_factory=set)
    active_days: int = 0
    personal: tuple[str, ...] = ()  # repositories of the actor's own namespace (habits.py)
    habit: str = ""  # "night" (evenings and weekends in ``personal``) or "saturday" (pushes every Saturday)
    hired_day: int = 0  # a new hire: first working day in the window

    def identity(self) -> Identity:
        return Identity(self.name, self.kind, self.role, self.team, self.networks, self.user_agent)

    def credential(self) -> CredentialRow:
        rotated = to_datetime(self.rotated_ns) if self.rotated_ns is not None else None
        expires = to_datetime(self.expires_ns) if self.expires_ns is not None else None
        owner = self.name if self.kind == "user" else self.team
        return CredentialRow(self.name, self.kind, owner, to_datetime(self.created_ns), rotated, expires)


def docker_agent(rng: Random) -> str:
    version, go = rng.choice(DOCKER_VERSIONS)
    if rng.random() < 0.3:
        kernel, arch, system = "6.10.4-linuxkit", "arm64", "darwin"
    else:
        kernel, arch, system = (
            rng.choice(("6.8.0-45-generic", "6.1.0-26-amd64", "6.11.5-300.fc41.x86_64")),
            "amd64",
            "linux",
        )
    commit = f"{rng.getrandbits(28):07x}"
    return (
        f"docker/{version} go/{go} git-commit/{commit} kernel/{kernel} os/linux arch/{arch} "
        f"UpstreamClient(Docker-Client/{version} \\({system}\\))"
    )


@dataclass(slots=True)
class Population:
    actors: dict[str, Actor]

    def by_role(self, *roles: str) -> list[Actor]:
        return [actor for actor in self.actors.values() if actor.role in roles]

    def add(self, actor: Actor) -> Actor:
        self.actors[actor.name] = actor
        return actor


def build_population(rng: Random, organisation: Organisation, start_ns: int, end_ns: int) -> Population:
    population = Population({})
    used: set[str] = set()
    for team in organisation.teams:
        _add_team(rng, population, organisation, team, used)
    for name, role, kind, agent, networks in (
        ("robot$platform+base-builder", "ci", "robot", "buildkit/v0.16.0", (CI_NETWORKS[0],)),
        (
            "robot$platform+renovate",
            "renovate",
            "robot",
            "RenovateBot/38.110.2 (https://github.com/renovatebot/renovate)",
            (CI_NETWORKS[0],),
        ),
        ("robot$platform+cleanup", "cleanup", "robot", "regclient/v0.7.1", (CI_NETWORKS[0],)),
        ("robot$security+scanner", "scanner", "robot", "Trivy/0.56.2 go-containerregistry/v0.20.2", (TOOLS,)),
        ("k8s-prod-eu", "production", "token", "containerd/v1.7.22", (PROD_EU,)),
        ("k8s-prod-us", "production", "token", "cri-o/1.30.4 go/go1.22.5 os/linux arch/amd64", (PROD_US,)),
        ("k8s-staging", "staging", "token", "containerd/v1.7.22", (STAGING,)),
    ):
        owner = name.split("$")[1].split("+")[0] if "$" in name else "platform"
        population.add(Actor(name, kind, role, owner, agent, "containerd", networks))  # type: ignore[arg-type]
    population.actors["robot$security+scanner"].addresses = ("10.30.5.20", "10.30.5.21")
    for index, team in enumerate(organisation.teams):
        if index % 2 == 0:
            agent = "argocd-image-updater/v0.15.1"
            population.add(Actor(f"deploy-{team.name}", "token", "deploy", team.name, agent, "tool", (CI_NETWORKS[1],)))
    for actor in population.actors.values():
        _inventory_dates(rng, actor, start_ns, end_ns)
    return population


def _add_team(rng: Random, population: Population, organisation: Organisation, team: Team, used: set[str]) -> None:
    if team.ci_style == "robot":
        name, kind = f"robot${team.name}+ci", "robot"
    else:
        name, kind = f"ci-{team.name}", "token"
    agent = "buildkit/v0.16.0" if rng.random() < 0.7 else "kaniko/v1.23.2 go-containerregistry/v0.20.2"
    pool = (CI_NETWORKS[0],) if team.ci_style == "robot" else (CI_NETWORKS[1],)
    population.add(Actor(name, kind, "ci", team.name, agent, "buildkit", pool))  # type: ignore[arg-type]
    own = [repo.name for repo in organisation.team_repos(team.name, "service")]
    others = [repo.name for repo in organisation.of_kind("service") if repo.team != team.name and not repo.restricted]
    bases = [repo.name for repo in organisation.of_kind("base")]
    for number in range(rng.randint(17, 25)):
        person = _person_name(rng, used)
        interests = (
            *own,
            f"{team.name}/sandbox",
            *rng.sample(bases, 2),
            *rng.sample(others, min(2, len(others))),
        )
        addresses = (address_in(rng, OFFICE), address_in(rng, VPN))
        actor = Actor(
            person,
            "user",
            "human",
            team.name,
            docker_agent(rng),
            "docker",
            (OFFICE, VPN),
            addresses=addresses,
            pusher=rng.random() < 0.35,
            interests=interests,
        )
        actor.admin = team.name == "platform" and number < 2
        population.add(actor)


def _person_name(rng: Random, used: set[str]) -> str:
    while True:
        name = f"{rng.choice(FIRST_NAMES)}.{rng.choice(LAST_NAMES)}"
        if name not in used:
            used.add(name)
            return name
        name = f"{name}{rng.randint(2, 9)}"
        if name not in used:
            used.add(name)
            return name


def _inventory_dates(rng: Random, actor: Actor, start_ns: int, end_ns: int) -> None:
    """In-date, recently rotated credentials: created long ago, rotated within 300 days, expiring after the
    end."""
    actor.created_ns = start_ns - rng.randint(60, 1500) * DAY - rng.randrange(DAY)
    rotated = start_ns - rng.randint(5, 300) * DAY - rng.randrange(DAY)
    actor.rotated_ns = rotated if rotated > actor.created_ns else None
    if actor.kind == "robot":
        actor.expires_ns = end_ns + rng.randint(30, 400) * DAY
