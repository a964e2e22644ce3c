"""What the detections must be told about the simulated organisation: the ``[org]`` section, and other facts.

``org_section`` returns exactly the keys of ``regaudit.analytics.settings.OrgSettings`` (which forbids
others); ``facts_of`` holds the rest an evaluation may want (scanner and staging identities, CI-only
repositories...).
"""

from __future__ import annotations

from regaudit.analytics.settings import OrgSettings
from regaudit.simulator.organisation import (
    BUSINESS_HOURS,
    CI_NETWORKS,
    HOST,
    INTERNAL_NETWORKS,
    OFFICE,
    OFFICE_PROXY,
    PROD_EU,
    PROD_US,
    STAGING,
    TIMEZONE,
    VPN,
)
from regaudit.simulator.world import World

PERSONAL_REPOSITORIES = ("sandbox/{identity}", "{identity}/*")
PROTECTED_TAG_PATTERNS = (r"^prod(uction)?([-_.].*)?$", r"^release[-_.].+$", r"^stable$")
CI_ROLES = ("ci", "renovate", "cleanup", "deploy")


def _hours() -> str:
    start, end = BUSINESS_HOURS
    return f"{int(start):02d}:{round(start % 1 * 60):02d}-{int(end):02d}:{round(end % 1 * 60):02d}"


def org_section(world: World) -> dict[str, object]:
    """The ``[org]`` table for the detections (ci identities and networks, protected repositories, hours)."""
    population, organisation = world.population, world.organisation
    protected = sorted(repo.name for repo in organisation.of_kind("service") if repo.production)
    section: dict[str, object] = {
        "ci_identities": sorted(actor.name for actor in population.by_role(*CI_ROLES)),
        "ci_networks": list(CI_NETWORKS),
        "production_identities": sorted(actor.name for actor in population.by_role("production")),
        "internal_networks": list(INTERNAL_NETWORKS),
        "admin_identities": sorted(actor.name for actor in population.by_role("human") if actor.admin),
        "public_repositories": ["public/*"],
        "protected_repositories": ["base/*", *protected],
        "protected_tag_patterns": list(PROTECTED_TAG_PATTERNS),
        "business_hours": _hours(),
        "business_days": ["mon", "tue", "wed", "thu", "fri"],
        "timezone": TIMEZONE,
    }
    if "personal_repositories" in OrgSettings.model_fields:  # the setting issue 16 adds (analytics/settings.py)
        section["personal_repositories"] = list(PERSONAL_REPOSITORIES)
    return section


def facts_of(world: World) -> dict[str, object]:
    """Facts beyond ``[org]``: who else is automation, which networks are which, which repositories are
    CI-only."""
    population, organisation = world.population, world.organisation
    return {
        "registry_host": HOST,
        "replicas": [replica.source_addr for replica in world.registry.replicas],
        "office_networks": [OFFICE],
        "office_proxy": OFFICE_PROXY,
        "vpn_networks": [VPN],
        "production_networks": [PROD_EU, PROD_US],
        "staging_networks": [STAGING],
        "human_identities": sorted(actor.name for actor in population.by_role("human")),
        "scanner_identities": sorted(actor.name for actor in population.by_role("scanner")),
        "staging_identities": sorted(actor.name for actor in population.by_role("staging")),
        "ci_only_repositories": sorted(r.name for r in organisation.of_kind("service", "base", "public", "tool")),
        "sandbox_repositories": sorted(r.name for r in organisation.of_kind("sandbox")),
        "restricted_repositories": sorted(r.name for r in organisation.repos.values() if r.restricted),
        "production_repositories": sorted(r.name for r in organisation.of_kind("service") if r.production),
        "personal_repositories": sorted(r.name for r in organisation.of_kind("personal")),
        "night_workers": sorted(actor.name for actor in population.by_role("human") if actor.habit == "night"),
        "saturday_pushers": sorted(a.name for a in population.by_role("human") if a.habit == "saturday"),
        "new_hires": {a.name: a.hired_day for a in population.by_role("human") if a.hired_day},
        "monthly_jobs": sorted(actor.name for actor in population.by_role("batch")),
        "quiet_robots": sorted(actor.name for actor in population.by_role("quiet")),
        "inventory_identities": sorted(actor.name for actor in population.by_role("inventory")),
        "heavy_pullers": sorted(actor.name for actor in population.by_role("trainer")),
    }
