"""Stack backends: how components run (native processes; later containers)."""
