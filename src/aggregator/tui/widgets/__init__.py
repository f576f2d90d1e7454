"""One widget a module; each owns its messages."""
