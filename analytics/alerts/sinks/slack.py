"""The Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat): one message a person can act on.

The message answers who, what, where, when and why in one screen, says when it is benign, and links to the
dashboard's finding, identity and repository pages (``alerts.dashboard_url``)::

    :red_circle: *HIGH* Human push to a CI-only repository
    *Who:* alice from 192.168.1.20 (skopeo/1.9.2)
    *What:* push of team/app:hotfix (sha256:3f1c9d2e4b5a)
    *Where:* registry default, repository team/app, at 2026-05-10 14:03:07 UTC
    *Why:* alice pushed to team/app, which only CI pushed to before (3 pushes since 2026-05-10)
    *Benign if:* Hotfixes pushed by hand during an incident. Robots missing from org.ci_identities.
    *If unexpected:* revoke alice's credential and delete `team/app@sha256:3f1c9d2e4b5a...`
    <https://...|Open the finding> | <https://...|alice's activity> | <https://...|team/app>
    push.human_to_ci_repository | ATT&CK T1525, T1078 | alert 6f1e...

Values from the registry are escaped (``&``, ``<``, ``>``), so an identity or tag cannot inject mentions or
links.
"""

from __future__ import annotations

import json
from datetime import datetime

from regaudit.analytics.alerts.alert import Alert
from regaudit.analytics.alerts.settings import SinkSettings
from regaudit.analytics.alerts.sinks.http_post import post
from regaudit.analytics.detection import Severity

EMOJI = {
    Severity.CRITICAL: ":rotating_light:",
    Severity.HIGH: ":red_circle:",
    Severity.MEDIUM: ":large_orange_circle:",
    Severity.LOW: ":large_blue_circle:",
}


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _when(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else None


def _short(digest: str | None) -> str | None:
    return digest[:19] if digest else None


def _who(alert: Alert) -> str:
    who = escape(alert.actor or "anonymous")
    if alert.client_addr:
        who += f" from {escape(alert.client_addr)}"
    return who + (f" ({escape(alert.user_agent)})" if alert.user_agent else "")


def _what(alert: Alert) -> str:
    if not alert.action or not alert.repository:
        return escape(alert.subject)
    what = f"{escape(alert.action)} of {escape(alert.repository)}"
    what += f":{escape(alert.tag)}" if alert.tag else ""
    return what + (f" ({escape(_short(alert.digest) or '')})" if alert.digest else "")


def _where(alert: Alert) -> str | None:
    parts = []
    if alert.registry:
        parts.append(f"registry {escape(alert.registry)}")
    if alert.repository:
        parts.append(f"repository {escape(alert.repository)}")
    when = _when(alert.event_at)
    text = ", ".join(parts)
    return (f"{text}, at {when}" if text else f"at {when}") if when else (text or None)


def _advice(alert: Alert) -> str | None:
    """What to do if nobody expected it: stop the credential, undo the change."""
    if alert.origin == "test" or not alert.repository or alert.action not in ("push", "delete"):
        return None
    stop = f"revoke {escape(alert.actor)}'s credential" if alert.actor else f"block {escape(alert.client_addr or '?')}"
    if alert.action == "delete":
        return f"*If unexpected:* {stop} and restore the deleted image of {escape(alert.repository)}"
    reference = f"{alert.repository}@{alert.digest}" if alert.digest else alert.repository
    return f"*If unexpected:* {stop} and delete `{escape(reference)}`"


def _links(alert: Alert, dashboard_url: str | None) -> str | None:
    links = alert.links(dashboard_url)
    labels = {
        "finding": "Open the finding",
        "identity": f"{escape(alert.identity or '')}'s activity",
        "repository": escape(alert.about_repository or ""),
    }
    shown = [f"<{url}|{labels[kind]}>" for kind, url in links.items()]
    return " | ".join(shown) or None


def _footer(alert: Alert) -> str:
    attack = [f"ATT&CK {', '.join(alert.attack)}"] if alert.attack else []
    return " | ".join([alert.detection_id, *attack, f"alert {alert.alert_id[:12]}"])


def message_text(alert: Alert, dashboard_url: str | None) -> str:
    """The message, in Slack's mrkdwn."""
    lines = [
        f"{EMOJI[alert.severity]} *{alert.severity.value.upper()}* {escape(alert.title)}",
        f"*Who:* {_who(alert)}" if alert.actor or alert.client_addr else None,
        f"*What:* {_what(alert)}",
        f"*Where:* {where}" if (where := _where(alert)) else None,
        f"*Why:* {escape(alert.summary)}",
        f"*Benign if:* {escape(' '.join(alert.false_positives))}" if alert.false_positives else None,
        _advice(alert),
        _links(alert, dashboard_url),
        escape(_footer(alert)),
    ]
    return "\n".join(line for line in lines if line)


class SlackSink:
    def __init__(self, settings: SinkSettings, dashboard_url: str | None) -> None:
        assert settings.url is not None  # checked by SinkSettings
        self.name = settings.name
        self.url = settings.url.get_secret_value()
        self.timeout = settings.timeout_seconds
        self.dashboard_url = dashboard_url

    def send(self, alert: Alert) -> None:
        payload = {"text": message_text(alert, self.dashboard_url), "unfurl_links": False, "unfurl_media": False}
        post(self.name, self.url, json.dumps(payload).encode(), {"Content-Type": "application/json"}, self.timeout)

    def close(self) -> None:
        return None
