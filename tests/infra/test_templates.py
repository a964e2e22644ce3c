"""The deploy files keep the shape the end-to-end tests substitute into, and the formats they promise."""

from __future__ import annotations

import re

import pytest

from tests.infra.templates import (
    NGINX_AUTH_BASIC,
    NGINX_AUTH_OFF,
    NGINX_CONFIG,
    REGISTRY_CONFIG,
    REGISTRY_HTPASSWD_CONFIG,
    TOKEN_PLACEHOLDER,
    TemplateDriftError,
    substitute,
)

# FORMATS.md section 3.1, verbatim.
FORMATS_LOG_FORMAT = r"""
map $http_authorization $auth_scheme { default other; "" none; "~*^basic " basic; "~*^bearer " bearer; }  # never log the secret
log_format registry_json escape=json '{'
  '"ts":"$time_iso8601","msec":"$msec","req_id":"$request_id",'
  '"remote_addr":"$remote_addr","xff":"$http_x_forwarded_for","remote_user":"$remote_user","auth":"$auth_scheme",'
  '"host":"$host","method":"$request_method","uri":"$request_uri","proto":"$server_protocol",'
  '"status":"$status","body_bytes_sent":"$body_bytes_sent","request_length":"$request_length","request_time":"$request_time",'
  '"ua":"$http_user_agent","accept":"$http_accept","req_ct":"$content_type","range":"$http_range",'
  '"resp_ct":"$sent_http_content_type","digest":"$upstream_http_docker_content_digest","location":"$sent_http_location",'
  '"www_auth":"$sent_http_www_authenticate","up_addr":"$upstream_addr","up_status":"$upstream_status","up_time":"$upstream_response_time",'
  '"tls":"$ssl_protocol"}';
access_log /var/log/nginx/registry.json registry_json;
"""  # noqa: E501


def _code(text: str) -> list[str]:
    """Lines without comments and indentation, blank lines dropped."""
    lines = (re.sub(r"^\s+|\s+#[^'\"]*$|^#.*$", "", line) for line in text.splitlines())
    return [line for line in lines if line]


def test_substitute_refuses_a_text_that_is_not_in_the_file() -> None:
    with pytest.raises(TemplateDriftError, match=r"conf: expected 'listen 443 ssl;' exactly once, found it 0"):
        substitute("listen 8443 ssl;", {"listen 443 ssl;": "listen 127.0.0.1:1 ssl;"}, source="conf")


def test_substitute_refuses_a_text_that_is_in_the_file_twice() -> None:
    with pytest.raises(TemplateDriftError, match="found it 2 times"):
        substitute("a: /x\nb: /x\n", {"/x": "/y"}, source="conf")


def test_substitute_refuses_production_values_left_outside_comments() -> None:
    text = "# the webhook:8081 in a comment is fine\naddr: :5000\nurl: http://webhook:8081/events\n"
    with pytest.raises(TemplateDriftError, match=r"still holds production values \['webhook:8081'\]"):
        substitute(text, {"addr: :5000": "addr: 127.0.0.1:1"}, source="config.yml")


def test_substitute_replaces_the_token_placeholder() -> None:
    text = f'Authorization: ["Bearer {TOKEN_PLACEHOLDER}"]'
    assert substitute(text, {TOKEN_PLACEHOLDER: "t0k"}, source="x") == 'Authorization: ["Bearer t0k"]'


def test_registry_htpasswd_config_is_the_plain_config_plus_the_auth_section() -> None:
    plain, htpasswd = _code(REGISTRY_CONFIG.read_text()), _code(REGISTRY_HTPASSWD_CONFIG.read_text())
    auth = ["auth:", "htpasswd:", "realm: regaudit-registry", "path: /etc/docker/registry/htpasswd"]
    start = htpasswd.index("auth:")

    assert htpasswd[start : start + len(auth)] == auth
    assert htpasswd[:start] + htpasswd[start + len(auth) :] == plain


def test_registry_config_sends_notifications_as_the_design_says() -> None:
    text = REGISTRY_CONFIG.read_text()
    for line in (
        "includereferences: true",
        "url: http://webhook:8081/events",
        f'Authorization: ["Bearer {TOKEN_PLACEHOLDER}"]',
        "timeout: 1s",
        "threshold: 5",
        "backoff: 1s",
    ):
        assert line in _code(text)


def test_nginx_config_logs_the_formats_json_log_format_verbatim() -> None:
    expected = _code(FORMATS_LOG_FORMAT.replace("  # never log the secret", ""))
    lines = _code(NGINX_CONFIG.read_text())
    start = lines.index(expected[0])

    assert lines[start : start + len(expected)] == expected
    assert "# never log the secret" in NGINX_CONFIG.read_text()


def test_nginx_auth_snippets_switch_auth_basic_on_and_off() -> None:
    assert _code(NGINX_AUTH_BASIC.read_text()) == [
        'auth_basic "regaudit registry";',
        "auth_basic_user_file /etc/nginx/registry.htpasswd;",
    ]
    assert _code(NGINX_AUTH_OFF.read_text()) == ["auth_basic off;"]
