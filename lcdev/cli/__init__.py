"""The lcdev command-line interface."""
