"""Sources: one package per kind of registry or log, what turns its raw bytes into the canonical rows.

A source package holds its parser (raw bytes to records, or to rows) and its normalizer SQL; its wire models live in
``regaudit.schemas`` and its transports in ``regaudit.ingest.receive``. ``distribution`` parses CNCF Distribution
notification envelopes, ``nginx`` normalizes access-log lines (JSON or combined, bare or in a shipper's envelope),
``credentials`` reads the credential inventory (htpasswd, CSV, JSON). A new registry kind is a new package here.
"""
