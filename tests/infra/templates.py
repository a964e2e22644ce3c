"""Render the production config files in ``deploy/`` for a test run.

The end-to-end tests start the very ``deploy/registry/*.yml`` and ``deploy/nginx/*.conf`` that production
runs. Only addresses, ports, paths and the webhook token differ, and :func:`substitute` swaps exactly
those: each expected text must occur exactly once in the file, and none of the production markers may survive
the substitution. A config that drifts (a renamed path, a second listen address, a new ``/etc/...`` file)
fails the render loudly instead of quietly testing something production does not run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"
REGISTRY_CONFIG = DEPLOY_DIR / "registry" / "config.yml"
REGISTRY_HTPASSWD_CONFIG = DEPLOY_DIR / "registry" / "config-htpasswd.yml"
NGINX_CONFIG = DEPLOY_DIR / "nginx" / "nginx.conf"
NGINX_AUTH_BASIC = DEPLOY_DIR / "nginx" / "auth-basic.conf"
NGINX_AUTH_OFF = DEPLOY_DIR / "nginx" / "auth-off.conf"

TOKEN_PLACEHOLDER = "${REGAUDIT_WEBHOOK_TOKEN}"
# Text that must not be left in a rendered file: production hosts, system paths, unrendered placeholders.
PRODUCTION_MARKERS = ("registry:5000", "webhook:8081", "/etc/", "/var/", "${")
_COMMENT = re.compile(r"#.*$", re.MULTILINE)


class TemplateDriftError(ValueError):
    """A deploy file no longer has the shape the tests substitute into."""


def substitute(
    text: str,
    replacements: Mapping[str, str],
    *,
    source: str,
    forbidden: Iterable[str] = PRODUCTION_MARKERS,
) -> str:
    """Replace each key of ``replacements`` (which must occur exactly once) by its value.

    Raises :class:`TemplateDriftError` naming ``source`` when a key occurs zero or several times, or when one
    of ``forbidden`` is still present outside comments afterwards.
    """
    for old, new in replacements.items():
        count = text.count(old)
        if count != 1:
            raise TemplateDriftError(f"{source}: expected {old!r} exactly once, found it {count} times")
        text = text.replace(old, new)
    code = _COMMENT.sub("", text)
    left = [marker for marker in forbidden if marker in code]
    if left:
        raise TemplateDriftError(f"{source}: still holds production values {left} after substitution")
    return text


def render(template: Path, replacements: Mapping[str, str], destination: Path) -> Path:
    """Write ``template`` with ``replacements`` applied to ``destination`` and return ``destination``."""
    text = substitute(template.read_text(), replacements, source=str(template))
    destination.write_text(text)
    return destination
