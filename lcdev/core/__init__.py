"""Pure logic shared by all layers: events, planning, states, workspace paths."""
