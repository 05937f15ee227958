"""Storage: tables, the append path, tenant-scoped reads, the hash chain and migrations."""
