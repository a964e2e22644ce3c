"""Who may post notifications for which registry: bearer tokens, checked once at start and per request.

At start (``BearerTokens.from_settings``) every token must be 16 visible ASCII characters or more: an empty
token let ``Authorization: Bearer \\xa0`` in (the header's value was stripped to nothing and matched), and a short
one can be guessed. Tokens in ``webhook.tokens`` are accepted for every registry; tokens in
``webhook.registry_tokens`` only for the registries they are listed under, so one registry's leaked token cannot
write another's audit trail. A refused configuration is a ``TerminalError``: the command exits non-zero and the
message names the setting and the token's position, never the token.

Per request every configured token is compared in constant time, so timing does not tell which one (or whether
any) matched. A registry name (``/events/<name>``) must match ``REGISTRY_NAME_PATTERN``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from pydantic import SecretStr

from regaudit.errors import TerminalError
from regaudit.settings import REGISTRY_NAME_PATTERN, WebhookSettings

MIN_TOKEN_CHARS = 16
MAX_TOKEN_CHARS = 4096
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
_REGISTRY_NAME = re.compile(REGISTRY_NAME_PATTERN)
_SCHEME = "bearer "


def valid_registry_name(name: str) -> bool:
    """Letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit, 63 characters at most."""
    return _REGISTRY_NAME.fullmatch(name) is not None


def _checked(token: SecretStr, where: str) -> bytes:
    value = token.get_secret_value()
    if not _VISIBLE_ASCII.fullmatch(value):
        raise TerminalError(f"{where}: empty, or a space, control or non-ASCII character (the token is not shown)")
    if not MIN_TOKEN_CHARS <= len(value) <= MAX_TOKEN_CHARS:
        raise TerminalError(
            f"{where}: {len(value)} characters, need {MIN_TOKEN_CHARS} to {MAX_TOKEN_CHARS} (e.g. openssl rand -hex 32)"
        )
    return value.encode("ascii")


@dataclass(frozen=True)
class BearerTokens:
    """The accepted tokens, each with the registries it may post for (None: every registry)."""

    entries: tuple[tuple[bytes, frozenset[str] | None], ...]

    @classmethod
    def from_settings(cls, settings: WebhookSettings) -> BearerTokens:
        """The tokens of ``webhook.tokens`` and ``webhook.registry_tokens``; TerminalError if one is unfit."""
        entries: list[tuple[bytes, frozenset[str] | None]] = [
            (_checked(token, f"webhook.tokens[{index}]"), None) for index, token in enumerate(settings.tokens)
        ]
        bound: dict[bytes, set[str]] = {}
        for registry, tokens in settings.registry_tokens.items():
            if not valid_registry_name(registry):
                raise TerminalError(f"webhook.registry_tokens: {registry!r} is not a registry name")
            for index, token in enumerate(tokens):
                bound.setdefault(_checked(token, f"webhook.registry_tokens.{registry}[{index}]"), set()).add(registry)
        entries += [(token, frozenset(registries)) for token, registries in bound.items()]
        if not entries:
            raise TerminalError("no bearer token configured: set webhook.tokens or pass --token-file")
        return cls(tuple(entries))

    def allow(self, header: str | None, registry: str) -> bool:
        """Whether ``Authorization: Bearer <token>`` names a token accepted for ``registry``."""
        if header is None or header[: len(_SCHEME)].lower() != _SCHEME:
            return False
        offered = header[len(_SCHEME) :].strip(" \t").encode("utf-8", "replace")
        allowed = False
        for token, registries in self.entries:  # no early exit: every comparison is made
            matched = hmac.compare_digest(offered, token)
            allowed |= matched and (registries is None or registry in registries)
        return allowed

    def allow_signature(self, signature: str | None, body: bytes, registry: str) -> bool:
        """Whether ``signature`` is the hex HMAC-SHA256 of ``body`` under a token accepted for ``registry``: how a
        JFrog webhook with payload signing sends its secret (``X-JFrog-Event-Auth``), the secret itself never."""
        if signature is None:
            return False
        offered = signature.strip(" \t").lower().removeprefix("sha256=").encode("utf-8", "replace")
        allowed = False
        for token, registries in self.entries:  # no early exit: every comparison is made
            expected = hmac.new(token, body, hashlib.sha256).hexdigest().encode("ascii")
            allowed |= hmac.compare_digest(offered, expected) and (registries is None or registry in registries)
        return allowed
