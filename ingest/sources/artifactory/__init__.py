"""JFrog Artifactory 7: its Docker-domain webhooks as raw records and canonical rows (FORMATS-more-registries.md
section 5.4). Its request log is an access-log format, read by the access normalizer (``ingest/sources/nginx``)."""
