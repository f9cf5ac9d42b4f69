"""Model and environment records: registration, versions, lookup, download, integrity."""
