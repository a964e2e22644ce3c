"""Tamper evidence: the hash chain over the audit tables, its verification, signed checkpoints, audited decisions,
retention that keeps the chain verifiable, and the Ed25519 keys that sign checkpoints and reports."""
