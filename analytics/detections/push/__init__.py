"""Suspicious pushes: unexpected identities, off-hours, outside CI networks, humans in CI-only repositories,
and production pulls of digests nobody signed."""
