"""Screens; widgets live in `tui/widgets`."""
