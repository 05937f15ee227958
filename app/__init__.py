"""Audit gateway: an append-only, hash-chained audit log served over GraphQL."""
