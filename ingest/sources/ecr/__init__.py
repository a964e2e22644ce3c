"""AWS ECR: CloudTrail records (a trail's S3 log files, EventBridge, HTTP, Kafka) and EventBridge image events.

As canonical rows (FORMATS.md section 5, FORMATS-more-registries.md section 9); docs/sources.md says what they hold.
"""
