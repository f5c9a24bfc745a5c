"""lcdev."""
