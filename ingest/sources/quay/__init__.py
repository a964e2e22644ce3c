"""Red Hat Quay: its usage logs, forwarded to Kafka or read from the logs API, as canonical rows.

FORMATS-more-registries.md section 6; ``logs.py`` says how each kind maps."""
