"""Every key binding has an id, so `[keys]` in config.toml can remap it."""

from __future__ import annotations

from textual.binding import Binding

# id: (default keys, description, shown in the footer)
ACTIONS: dict[str, tuple[str, str, bool]] = {
    "app.quit": ("q", "Quit", True),
    "app.help": ("question_mark", "Keys", True),
    "app.search": ("slash", "Search", True),
    "app.back": ("escape", "Back", True),
    "app.refresh_all": ("R", "Refresh all", False),
    "app.refresh": ("r", "Refresh", True),
    "app.sources": ("S", "Sources", False),
    "app.add_source": ("a", "Add", False),
    "app.sidebar": ("b", "Sidebar", False),
    "entry.open": ("enter", "Open", False),
    "entry.page": ("space", "Page", False),
    "entry.next_unread": ("n", "Next unread", False),
    "entry.prev_unread": ("p", "Prev unread", False),
    "entry.toggle_read": ("m", "Read", False),
    "entry.star": ("s", "Star", False),
    "entry.all_read": ("A", "All read", False),
    "entry.undo_all_read": ("U", "Undo all read", False),
    "entry.unread_only": ("u", "Unread only", False),
    "entry.open_link": ("o", "Open link", True),
    "entry.open_file": ("O", "Open attachment", False),
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
    "entry.undo_all_read": "Undo all read: the last A's entries unread again",
    "app.quit": (
        "Quit; in the reader and the sources screen, back (as in newsboat); ctrl+c quits anywhere"
    ),
    "source.check": "Check source (sources screen): fetch and read it now, storing nothing",
    "app.sidebar": "Sidebar: wide enough for long names, then hidden, then as it was",
    "entry.open_file": "Open attachment: the entry's first file",
}
"""What the help says of an action, when more than its footer label."""


def binding(action_id: str, action: str, *, priority: bool = False) -> Binding:
    keys, description, show = ACTIONS[action_id]
    return Binding(keys, action, description, show=show, id=action_id, priority=priority)


SCREEN = ("app", "entry", "search", "source")
"""Actions of the screen, whose keys work wherever the focus is."""
WIDGETS = tuple(sorted({action.split(".")[0] for action in ACTIONS} - set(SCREEN)))
"""Actions of one part of the screen (list, reader, sidebar): the same key may move each
(`j`), as the part with the focus takes it before the screen does."""


def keymap(pairs: tuple[tuple[str, str], ...]) -> tuple[dict[str, str], list[str], list[str]]:
    """The user's remapping, the ids in it that name no action, and the remaps given up
    because they would give one key to two actions that work at the same time (`m` to Star
    and to Read: one of them would have no key, and which is not said): each as a line to
    warn with. An action given up keeps its default keys."""
    known = {k: v for k, v in pairs if k in ACTIONS}
    unknown = [k for k, _ in pairs if k not in ACTIONS]
    dropped: list[str] = []
    while clash := _clash({**{a: d[0] for a, d in ACTIONS.items()}, **known}):
        key, actions = clash
        mine = [a for a in actions if a in known]
        for action in mine:
            del known[action]
        dropped.append(f"{key} for {' and '.join(actions)}: kept the default of {', '.join(mine)}")
    return known, unknown, dropped


def _clash(keys_of: dict[str, str]) -> tuple[str, list[str]] | None:
    """A key that two actions working at the same time would share, with those actions."""
    for widget in (None, *WIDGETS):
        scope = {*SCREEN, widget} if widget else set(SCREEN)
        holders: dict[str, list[str]] = {}
        for action, keys in keys_of.items():
            if action.split(".")[0] in scope:
                for key in {k.strip() for k in keys.split(",") if k.strip()}:
                    holders.setdefault(key, []).append(action)
        for key, actions in holders.items():
            if len(actions) > 1:
                return key, actions
    return None
