"""Overwritten tags: release and mutable tags moved to another digest, tags moved back, deletes in protected
repositories. Cosign signature and referrer-fallback tags are expected to move and are excluded."""
