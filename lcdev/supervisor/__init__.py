"""The per-workspace supervisor process, its control API and the client of that API."""
