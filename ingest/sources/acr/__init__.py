"""Azure Container Registry: resource logs (an Event Hub read over its Kafka endpoint, or a storage account's JSON
Lines blobs) and webhooks.

As canonical rows (FORMATS.md 5.3, FORMATS-more-registries.md 1); docs/sources.md says what they hold.
"""
