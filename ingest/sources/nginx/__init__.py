"""nginx access logs in front of a registry: the normalizer of JSON and combined lines (FORMATS.md sections 3-4)."""
