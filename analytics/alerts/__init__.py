"""Alerts: suspicious pushes and deletes within seconds, and batch findings, to where security teams look.

    ingest batch (one transaction) ─▶ stream: streaming rules ─▶ findings + alert_outbox ─┐
    regaudit analyze ─▶ findings ─▶ pickup (new open findings) ─▶ alert_outbox ────────────┤
                                                                                           ▼
    dispatcher (thread of `regaudit consume`, or `regaudit alerts dispatch`) ─▶ worker per sink ─▶ sinks
                  one short transaction per cycle: outbox, lease, alert_deliveries, `alerts` log

Modules: ``settings`` ([alerts]), ``alert`` (the document), ``stream`` (the batch hook), ``evidence`` (who, what,
where), ``pickup`` (analyze findings), ``outbox`` (the tables), ``policy`` (routing, dedup, rate limit,
backoff), ``worker`` and ``dispatcher`` (delivery), ``sinks`` (webhook, slack, kafka, syslog, stdout),
``errors``, and the two commands.

Creation is exactly once (same transaction as the rows that caused it); delivery is at least once with a
stable ``alert_id``; a sink that is down gets what it is owed within ``retry_max_seconds`` of coming back, for
alerts younger than ``give_up_after_hours``.
"""
