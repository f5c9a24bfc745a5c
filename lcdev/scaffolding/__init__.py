"""Workspace templates and editor schema files."""
