from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from regaudit.cli import build_parser, main
from regaudit.settings import Settings, load_settings, settings_table

README = Path(__file__).parents[1] / "README.md"


def test_every_setting_is_described():
    for section in Settings.model_fields.values():
        for name, field in section.annotation.model_fields.items():
            assert field.description, name


def test_readme_carries_the_settings_table():
    assert settings_table() in README.read_text(), "paste `regaudit settings` into README.md"


def test_flags_beat_environment_beat_file_beat_defaults(tmp_path):
    toml = tmp_path / "regaudit.toml"
    toml.write_text(
        '[kafka]\nbootstrap_servers = "file:9092"\nevents_topic = "file.events"\n[consumer]\ngroup_id = "file-group"\n'
    )
    environ = {"REGAUDIT_KAFKA__BOOTSTRAP_SERVERS": "env:9092", "REGAUDIT_CONSUMER__GROUP_ID": "env-group"}
    settings = load_settings(toml, {"consumer": {"group_id": "flag-group"}}, environ)
    assert settings.kafka.bootstrap_servers == "env:9092"
    assert settings.kafka.events_topic == "file.events"
    assert settings.consumer.group_id == "flag-group"
    assert settings.kafka.access_topic == "registry.access"


def test_each_source_beats_the_next_one_field_by_field(tmp_path):
    toml = tmp_path / "regaudit.toml"
    toml.write_text('[kafka]\nevents_topic = "file.events"\naccess_topic = "file.access"\n')
    environ = {"REGAUDIT_KAFKA__DEADLETTER_TOPIC": "env.deadletters", "REGAUDIT_KAFKA__ACCESS_TOPIC": "env.access"}
    flags = {"kafka": {"events_topic": "flag.events", "access_topic": None}}  # None: the flag was not given
    kafka = load_settings(toml, flags, environ).kafka
    assert kafka.events_topic == "flag.events"  # flag over file
    assert kafka.access_topic == "env.access"  # environment over file; a flag not given does not count
    assert kafka.deadletter_topic == "env.deadletters"  # environment over default
    assert kafka.bootstrap_servers == "localhost:9092"  # default


def test_config_flag_beats_the_config_file_the_environment_names(tmp_path):
    named, given = tmp_path / "named.toml", tmp_path / "given.toml"
    named.write_text('[consumer]\ngroup_id = "named"\n')
    given.write_text('[consumer]\ngroup_id = "given"\n')
    assert load_settings(given, None, {"REGAUDIT_CONFIG": str(named)}).consumer.group_id == "given"
    assert load_settings(None, None, {"REGAUDIT_CONFIG": str(named)}).consumer.group_id == "named"
    assert load_settings(None, None, {"REGAUDIT_CONFIG": ""}).consumer.group_id == "regaudit"


def test_a_missing_config_file_is_refused(tmp_path, capsys):
    missing = tmp_path / "missing.toml"
    with pytest.raises(FileNotFoundError):
        load_settings(missing, None, {})
    assert main(["--config", str(missing), "settings"]) == 2
    assert f"regaudit: bad settings: [Errno 2] No such file or directory: '{missing}'" in capsys.readouterr().err


class ReadOnlyEnviron(dict[str, str]):
    """The process environment as a mapping that refuses every write: loading settings only reads it."""

    def refuse(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("load_settings wrote os.environ")

    __setitem__ = __delitem__ = clear = update = pop = popitem = setdefault = refuse  # type: ignore[assignment]


def test_load_settings_reads_the_process_environment_and_never_writes_it(tmp_path, monkeypatch):
    toml = tmp_path / "r.toml"
    toml.write_text('[kafka]\nbootstrap_servers = "file:9092"\nevents_topic = "file.events"\n')
    monkeypatch.setenv("REGAUDIT_CONFIG", str(toml))
    monkeypatch.setenv("REGAUDIT_KAFKA__BOOTSTRAP_SERVERS", "env:9092")
    before = dict(os.environ)
    with monkeypatch.context() as patched:
        patched.setattr(os, "environ", ReadOnlyEnviron(before))
        from_process = load_settings(None, {"consumer": {"group_id": "flag-group"}})
        given = load_settings(None, None, {"REGAUDIT_KAFKA__EVENTS_TOPIC": "given.events"})
    assert dict(os.environ) == before
    assert from_process.kafka.bootstrap_servers == "env:9092"
    assert from_process.kafka.events_topic == "file.events"
    assert from_process.consumer.group_id == "flag-group"
    assert given.kafka.events_topic == "given.events"  # the given environment, not the process's
    assert given.kafka.bootstrap_servers == "localhost:9092"


def test_config_file_from_the_environment_and_secrets_stay_secret(tmp_path):
    toml = tmp_path / "r.toml"
    toml.write_text('[webhook]\ntokens = ["s3cr3t"]\n')
    settings = load_settings(None, None, {"REGAUDIT_CONFIG": str(toml)})
    assert settings.webhook.tokens[0].get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in settings.model_dump_json()


def test_unknown_settings_are_refused(tmp_path):
    toml = tmp_path / "r.toml"
    toml.write_text("[kafka]\nbootstrap = 'typo'\n")
    with pytest.raises(ValidationError, match="bootstrap"):
        load_settings(toml, None, {})
    assert main(["--config", str(toml), "settings"]) == 2


def subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every subcommand under ``parser`` by its full name ("detections list"), groups and their members alike."""
    found: dict[str, argparse.ArgumentParser] = {}
    if parser._subparsers is None:
        return found
    for name, sub in parser._subparsers._group_actions[0].choices.items():
        found[prefix + name] = sub
        found |= subcommands(sub, f"{prefix}{name} ")
    return found


def test_every_command_has_help():
    commands = subcommands(build_parser())
    assert {"webhook", "ship-logs", "consume", "store", "schemas", "settings", "detections list"} <= set(commands)
    for name, sub in commands.items():
        assert sub.description, name


SLACK_URL = "https://hooks.slack.com/services/T0000/B0000/slack-url-credential"
HMAC_KEY = "hmac-key-of-the-webhook-sink"


def leaked(secret: str, text: str) -> bool:
    """Whether any 8 characters of ``secret`` show in ``text`` (pydantic shortens long inputs in the middle)."""
    return any(secret[start : start + 8] in text for start in range(len(secret) - 7))


@pytest.mark.parametrize(
    "sinks",
    [
        # a model-level check fails: pydantic's message would show the whole table, secret included
        f'[[alerts.sinks]]\nname = "hook"\ntype = "webhook"\nsecret = "{HMAC_KEY}"\n'
        f'[[alerts.sinks]]\nname = "chat"\ntype = "slack"\nurl = "{SLACK_URL}"\n'
        '[[alerts.sinks]]\nname = "chat"\ntype = "stdout"\n',
        # a wrong value in the credential itself
        '[[alerts.sinks]]\nname = "chat"\ntype = "slack"\nurl = ["' + SLACK_URL + '"]\n',
        f'[[alerts.sinks]]\nname = "hook"\ntype = "webhook"\nurl = "https://x"\nsecret = ["{HMAC_KEY}"]\n',
        # a list given as one string: pydantic would show the string, the webhook's token
        f'[webhook]\ntokens = "{HMAC_KEY}"\n',
    ],
)
def test_a_settings_error_never_prints_a_secret(tmp_path, capsys, sinks):
    toml = tmp_path / "r.toml"
    toml.write_text(sinks)
    with pytest.raises(ValidationError) as raised:
        load_settings(toml, None, {})
    assert main(["--config", str(toml), "settings"]) == 2
    printed = capsys.readouterr().err
    assert "validation error" in printed
    for shown in (str(raised.value), repr(raised.value), printed):
        assert not leaked(SLACK_URL.removeprefix("https://hooks.slack.com/services/"), shown)
        assert not leaked(HMAC_KEY, shown)


def test_settings_effective_masks_the_slack_url_and_the_sinks_still_get_it(tmp_path, capsys):
    toml = tmp_path / "r.toml"
    toml.write_text(
        f'[[alerts.sinks]]\nname = "chat"\ntype = "slack"\nurl = "{SLACK_URL}"\n'
        f'[[alerts.sinks]]\nname = "hook"\ntype = "webhook"\nurl = "https://x"\nsecret = "{HMAC_KEY}"\n'
    )
    assert main(["--config", str(toml), "settings", "--effective"]) == 0
    printed = capsys.readouterr().out
    assert not leaked(SLACK_URL.removeprefix("https://hooks.slack.com/services/"), printed)
    assert not leaked(HMAC_KEY, printed)
    assert '"url": "**********"' in printed
    settings = load_settings(toml, None, {})
    assert "slack-url-credential" not in repr(settings)
    from regaudit.analytics.alerts.sinks import build_sink

    chat = build_sink(settings.alerts.sink("chat"), None, settings.kafka)
    hook = build_sink(settings.alerts.sink("hook"), None, settings.kafka)
    assert getattr(chat, "url", None) == SLACK_URL
    assert getattr(hook, "secret", None) == HMAC_KEY.encode()
