"""The native backend: every component as a local process."""
