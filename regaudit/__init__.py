"""regaudit: audit logging and access analytics for private container registries."""

__version__ = "0.1.0"
