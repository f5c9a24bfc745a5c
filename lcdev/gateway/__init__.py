"""The workspace gateway: one HTTP entry point routing to every service."""
