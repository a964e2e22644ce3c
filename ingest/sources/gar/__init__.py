"""Google Artifact Registry: Cloud Audit Logs entries (a Log Router sink's files or Pub/Sub messages) and the
``gcr`` Pub/Sub notifications.

As canonical rows (FORMATS.md 5.4, FORMATS-more-registries.md 2); docs/sources.md says what they hold.
"""
