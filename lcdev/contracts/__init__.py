"""Contract checks behind ``lcdev test``: API (schemathesis), events, breaking changes."""
