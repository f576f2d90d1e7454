"""Every key binding has an id, so `[keys]` in config.toml can remap it."""

from __future__ import annotations

from textual.binding import Binding

# id: (default keys, description, shown in the footer)
ACTIONS: dict[str, tuple[str, str, bool]] = {
    "app.quit": ("q,ctrl+c", "Quit", True),
    "app.help": ("question_mark", "Keys", True),
    "app.search": ("slash", "Search", True),
    "app.back": ("escape", "Back", True),
    "app.refresh_all": ("R", "Refresh all", False),
    "app.refresh": ("r", "Refresh", True),
    "app.sources": ("S", "Sources", False),
    "app.add_source": ("a", "Add", False),
    "entry.open": ("enter", "Open", False),
    "entry.page": ("space", "Page", False),
    "entry.next_unread": ("n", "Next unread", False),
    "entry.prev_unread": ("p", "Prev unread", False),
    "entry.toggle_read": ("m", "Read", False),
    "entry.star": ("s", "Star", False),
    "entry.all_read": ("A", "All read", False),
    "entry.unread_only": ("u", "Unread only", False),
    "entry.open_link": ("o", "Open link", True),
    "search.sort": ("t", "Sort", False),
    "search.suggestion": ("ctrl+y", "Use suggestion", False),
    "source.edit": ("e", "Edit source", False),
    "source.delete": ("d", "Delete source", False),
    "source.check": ("c", "Check source", True),
    "list.down": ("down,j", "Down in the list", False),
    "list.up": ("up,k", "Up in the list", False),
    "list.page_down": ("pagedown", "A page down the list", False),
    "list.page_up": ("pageup", "A page up the list", False),
    "list.first": ("home,g", "First entry", False),
    "list.last": ("end,G", "Last entry", False),
    "reader.down": ("j", "Scroll the article down", False),
    "reader.up": ("k", "Scroll the article up", False),
    "sidebar.down": ("j", "Down in the sidebar (↓ too)", False),
    "sidebar.up": ("k", "Up in the sidebar (↑ too)", False),
}
HELP: dict[str, str] = {
    "source.check": "Check source (sources screen): fetch and read it now, storing nothing",
}
"""What the help says of an action, when more than its footer label."""


def binding(action_id: str, action: str, *, priority: bool = False) -> Binding:
    keys, description, show = ACTIONS[action_id]
    return Binding(keys, action, description, show=show, id=action_id, priority=priority)


def keymap(pairs: tuple[tuple[str, str], ...]) -> tuple[dict[str, str], list[str]]:
    """The user's remapping, and the ids in it that name no action (to warn about)."""
    known = {k: v for k, v in pairs if k in ACTIONS}
    unknown = [k for k, _ in pairs if k not in ACTIONS]
    return known, unknown
