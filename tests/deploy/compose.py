"""The production files as data: docker-compose.yml parsed, its shell scripts unescaped, its variables
resolved.

Compose reads ``$$`` as a literal ``$`` and ``${NAME:-default}`` as a variable; :func:`shell_script` and
:func:`interpolate_defaults` do the same, so the tests run and parse exactly what a container would get.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DEPLOY_DIR = REPO_ROOT / "deploy"
REGAUDIT_TOML = DEPLOY_DIR / "regaudit.toml"
ENV_EXAMPLE = DEPLOY_DIR / ".env.example"
INIT_SECRETS = DEPLOY_DIR / "init-secrets.sh"
SECRETS_DIR = DEPLOY_DIR / "secrets"
TLS_PROXY_CONFIG = DEPLOY_DIR / "nginx" / "tls-proxy.conf"
KAFKA_CONFIG = DEPLOY_DIR / "kafka" / "server.properties"

# Long-running services, and the one-shots the others wait for.
ONE_SHOTS = {"kafka-init", "store-init"}
# Run on demand (`docker compose run --rm NAME`), never by `up`: each has a profile of its own.
TOOLS = {"verify"}
# Who writes the store (read-write mount) and who only reads it (read-only mount).
STORE_WRITERS = {"store-init", "consume", "analyze", "dashboard"}
STORE_READERS = {"checkpoint", "verify"}

_VARIABLE = re.compile(r"(?<!\$)\$\{(?P<name>[A-Z_][A-Z0-9_]*)(?::?[-?](?P<default>[^}]*))?\}")


def load_compose() -> dict[str, Any]:
    data = YAML(typ="safe").load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


def load_toml() -> dict[str, Any]:
    with REGAUDIT_TOML.open("rb") as handle:
        return tomllib.load(handle)


def regaudit_image(compose: dict[str, Any]) -> str:
    image = compose["x-regaudit"]["image"]
    assert isinstance(image, str)
    return image


def regaudit_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the regaudit image, i.e. whose ``command`` is a regaudit command line."""
    image = regaudit_image(compose)
    return {name: svc for name, svc in compose["services"].items() if svc.get("image") == image}


def shell_script(text: str) -> str:
    """A compose string as the shell receives it; every ``$`` in the file must be escaped as ``$$``."""
    lone = re.sub(r"\$\$", "", text)
    assert "$" not in lone, f"an unescaped $ would be interpolated by compose:\n{text}"
    return text.replace("$$", "$")


def interpolate_defaults(text: str) -> str:
    """``${NAME:-default}`` replaced by its default, as compose does when NAME is not set."""
    return _VARIABLE.sub(lambda match: match["default"] or "", text)


def variables(text: str) -> set[str]:
    """Names of the ``${NAME...}`` variables compose interpolates in ``text``."""
    return {match["name"] for match in _VARIABLE.finditer(text)}


def mount_targets(service: dict[str, Any], key: str) -> dict[str, str]:
    """target -> source of a service's ``configs`` or ``secrets`` (short syntax, or a relative target:
    /run/secrets/<name>)."""
    targets = {}
    for entry in service.get(key, []):
        source, target = (entry, entry) if isinstance(entry, str) else (entry["source"], entry["target"])
        if not target.startswith("/"):
            target = f"/run/secrets/{target}" if key == "secrets" else f"/{target}"
        targets[target] = source
    return targets


def kafka_properties(text: str | None = None) -> dict[str, str]:
    """deploy/kafka/server.properties (or ``text``) as Java reads it: comments, continued lines, last key wins."""
    properties: dict[str, str] = {}
    logical = re.sub(r"\\\n[ \t]*", "", KAFKA_CONFIG.read_text() if text is None else text)
    for line in logical.splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        key, _, value = line.partition("=")
        properties[key.strip()] = value.strip()
    return properties


def networks(service: dict[str, Any]) -> set[str]:
    """The networks a service joins (list or mapping syntax)."""
    joined = service.get("networks", [])
    return set(joined if isinstance(joined, list) else joined.keys())


def volume_mounts(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """target -> (source, read_only) of a service's volumes (short syntax)."""
    mounts = {}
    for entry in service.get("volumes", []):
        source, target, *mode = entry.split(":")
        mounts[target] = (source, mode == ["ro"])
    return mounts
