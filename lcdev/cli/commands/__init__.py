"""One module per command; each is a thin layer over the supervisor client or the model."""
