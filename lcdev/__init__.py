"""lcdev: a local dev environment for low-code and hand-written microservices."""

__version__ = "0.1.0"
