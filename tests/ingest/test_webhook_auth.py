"""Webhook tokens that cannot be walked around (issue 14, section 6): unfit tokens stop the webhook at start,
bound tokens post only for their registries, and the registry name in the path is checked."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from regaudit.commands.webhook import read_token_file
from regaudit.errors import TerminalError
from regaudit.ingest.receive.webhook import create_app
from regaudit.ingest.sinks.memory import MemorySink
from regaudit.settings import WebhookSettings
from tests.ingest import processes
from tests.samples import SAMPLES, posts

ANY = "any-registry-token-0123"  # noqa: S105 - test tokens
EU = "eu-only-token-0123456789"  # noqa: S105
BODY = json.dumps(posts(SAMPLES / "distribution-2.8.2-htpasswd.events.jsonl")[0]["body"]).encode()


def post(client: TestClient, path: str, authorization: str | None):
    headers: dict[str, str | bytes] = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization.encode("latin-1")  # as sent on the wire: "\xa0" is one byte
    return client.post(path, content=BODY, headers=headers)


@pytest.fixture
def client():
    settings = WebhookSettings(tokens=[ANY], registry_tokens={"eu": [EU]}, registry="main")
    with TestClient(create_app(settings, MemorySink())) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        ([""], "webhook.tokens\\[0\\]: empty"),
        ([ANY, "\xa0" * 20], "webhook.tokens\\[1\\]: empty, or a space, control or non-ASCII"),
        (["with a space in it 0123"], "a space"),
        (["tab\tinside-0123456789"], "a space"),
        (["short-token"], "webhook.tokens\\[0\\]: 11 characters, need 16"),
        ([], "no bearer token configured"),
    ],
)
def test_the_webhook_refuses_to_start_with_an_unfit_token(tokens, message):
    with pytest.raises(TerminalError, match=message):
        create_app(WebhookSettings(tokens=tokens), MemorySink())


def test_an_unfit_bound_token_or_registry_name_is_refused_too():
    with pytest.raises(TerminalError, match=r"webhook.registry_tokens.eu\[0\]: 5 characters"):
        create_app(WebhookSettings(registry_tokens={"eu": ["short"]}), MemorySink())
    with pytest.raises(TerminalError, match="'e u' is not a registry name"):
        create_app(WebhookSettings(registry_tokens={"e u": [EU]}), MemorySink())


def test_a_blank_bearer_is_refused_where_an_empty_token_let_it_in(client):
    for header in ("Bearer \xa0", "Bearer ", "Bearer", "Bearer \t ", ""):
        assert post(client, "/events", header).status_code == 401


def test_the_webhook_process_exits_non_zero_naming_the_setting_but_not_the_token(tmp_path):
    env = processes.regaudit_env(tmp_path / "audit.duckdb", REGAUDIT_WEBHOOK__TOKENS=json.dumps(["leaky-but-short"]))
    command = [*processes.REGAUDIT, "webhook", "--port", str(processes.free_port())]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "webhook.tokens[0]: 15 characters, need 16" in result.stderr + result.stdout
    assert "leaky-but-short" not in result.stderr + result.stdout


def test_a_bound_token_posts_only_for_its_registries(client):
    assert post(client, "/events/eu", f"Bearer {EU}").status_code == 200
    assert post(client, "/events/us", f"Bearer {EU}").status_code == 401
    assert post(client, "/events", f"Bearer {EU}").status_code == 401  # /events is webhook.registry, "main"
    for path in ("/events", "/events/eu", "/events/us"):
        assert post(client, path, f"Bearer {ANY}").status_code == 200


def test_the_scheme_is_case_insensitive_and_the_token_exact(client):
    assert post(client, "/events", f"bearer {ANY}").status_code == 200
    assert post(client, "/events", f"Bearer  {ANY} ").status_code == 200  # optional white space around it
    assert post(client, "/events", f"Bearer {ANY.upper()}").status_code == 401
    assert post(client, "/events", f"Basic {ANY}").status_code == 401


@pytest.mark.parametrize("name", ["-leading-dash", ".hidden", "a" * 64, "eu%20prod", "caf%C3%A9", "a:b", "%00"])
def test_a_path_that_is_not_a_registry_name_is_404_once_authenticated(client, name):
    assert post(client, f"/events/{name}", f"Bearer {ANY}").status_code == 404
    assert post(client, f"/events/{name}", None).status_code == 401  # nothing learned without a token


@pytest.mark.parametrize("name", ["eu", "registry-eu.prod_2", "A" * 63, "0"])
def test_registry_names_of_letters_digits_dots_dashes_and_underscores_are_accepted(client, name):
    assert post(client, f"/events/{name}", f"Bearer {ANY}").status_code == 200


def test_the_default_registry_name_must_be_a_registry_name_too():
    with pytest.raises(ValueError, match="registry"):
        WebhookSettings(tokens=[ANY], registry="bad name")


def test_a_token_file_binds_tokens_to_registries(tmp_path):
    path = tmp_path / "tokens"
    path.write_text(f"# rotation in progress\n{ANY}\n\n{EU} eu,eu-west\n")
    assert read_token_file(path) == {"tokens": [ANY], "registry_tokens": {"eu": [EU], "eu-west": [EU]}}
    path.write_text(f"{EU} eu extra\n")
    with pytest.raises(TerminalError, match=":1: expected"):
        read_token_file(path)


def test_the_webhook_command_reads_bound_tokens_from_its_file(tmp_path):
    path = tmp_path / "tokens"
    path.write_text(f"{EU} eu\n")
    code = (
        "from regaudit.cli import build_parser\n"
        "from regaudit.commands.webhook import overrides\n"
        f"args = build_parser().parse_args(['webhook', '--token-file', {str(path)!r}])\n"
        "print(overrides(args)['webhook']['registry_tokens'])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == f"{{'eu': ['{EU}']}}", result.stderr[-2000:]
