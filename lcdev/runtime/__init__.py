"""The low-code runtime: a service served from its definition (data, API, events)."""
