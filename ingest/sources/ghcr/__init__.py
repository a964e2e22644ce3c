"""GitHub Container Registry: the package events of an organization's audit log, read by ``regaudit poll ghcr``."""
