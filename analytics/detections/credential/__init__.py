"""Stale and misused credentials: never used, unused, not rotated, expired but presented, dormant then active,
one credential from many networks at once."""
