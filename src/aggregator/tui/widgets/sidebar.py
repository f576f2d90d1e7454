"""The sidebar: topics → sources with unread counts and a mark for failing sources; during a
search, the counts by topic and source to narrow the results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import NodeID, TreeNode

from aggregator.models import UNFILED, SourceInfo
from aggregator.tui.keys import binding
from aggregator.tui.text import unjoined


@dataclass(frozen=True)
class Place:
    """What a sidebar node stands for."""

    kind: str  # "all", "starred", "topic", "source", "facet-topic", "facet-source", "heading"
    value: str = ""


class Sidebar(Tree[Place]):
    BINDINGS = [  # j and k move here too, as in the list
        binding("sidebar.down", "cursor_down"),
        binding("sidebar.up", "cursor_up"),
    ]
    DEFAULT_CSS = """
    Sidebar { width: 30; background: $panel; padding: 0 1; }
    Sidebar.narrow { width: 22; }
    Sidebar.widened { width: 60%; max-width: 64; }
    Sidebar.hidden { display: none; }
    """

    class Chosen(Message):
        def __init__(self, place: Place) -> None:
            super().__init__()
            self.place = place

    def __init__(self, *, id: str | None = None) -> None:
        self._counted: dict[NodeID, tuple[str, int, bool]] = {}
        """Each node's name, count and failing mark, as its label shows them."""
        self._counting: dict[str, list[TreeNode[Place]]] = {}
        """The nodes whose counts a source's entries are in: its topics and its own."""
        self._unread_shown = False
        """Whether the counts are the library's unread ones (not a search's)."""
        self._starred: TreeNode[Place] | None = None
        super().__init__(Text("All"), data=Place("all"), id=id)
        self.show_root = True
        self.guide_depth = 2
        self.auto_expand = False

    def show_sources(
        self,
        sources: list[SourceInfo],
        total_unread: int,
        starred: int = 0,
        shown: Place | None = None,
        topics: Iterable[str] = (),
    ) -> None:
        """The library as topics and sources, keeping the selection where it was; first,
        the starred entries (their count, not an unread one). `shown`: the place the list
        shows, where the cursor goes when it was on a search's count (a search ended).
        `topics`: the list's topics, shown though no source is in them yet (a folder made
        for sources to come, where `a` adds one)."""
        cursor = self.cursor_node
        chosen = cursor.data if cursor is not None else None
        if chosen is not None and not self._unread_shown:  # a search's counts (it ended)
            chosen, cursor = shown, None
        # Which of its places, for a source shown in several topics: it stays in that one.
        occurrence = (
            [n for n in _walk(self.root) if n.data == chosen].index(cursor) if cursor else 0
        )
        self.clear()
        self.root.data = Place("all")
        self._counted, self._counting, self._unread_shown = {}, {}, True
        self._count(self.root, "All", total_unread)
        self._starred = self.root.add_leaf("", data=Place("starred"))
        self._count(self._starred, "Starred", starred)
        unread_by_topic: dict[str, int] = {}
        paths_of = {info.source.url: _all_topic_paths(info) for info in sources}
        for info in sources:
            for path in paths_of[info.source.url]:  # a topic counts a source once, however filed
                unread_by_topic[path] = unread_by_topic.get(path, 0) + info.unread
        nodes: dict[str, TreeNode[Place]] = {}

        def topic(folder: str) -> TreeNode[Place]:
            parent = self.root
            for path in _topic_paths(folder):
                if path not in nodes:
                    nodes[path] = parent.add("", data=Place("topic", path), expand=True)
                    name = path.rsplit("/", 1)[-1] or UNFILED
                    self._count(nodes[path], name, unread_by_topic.get(path, 0))
                parent = nodes[path]
            return parent

        for info in sources:
            leaves = []
            for folder in _folders(info):  # its folder, then the others its tags name
                leaf = topic(folder).add_leaf("", data=Place("source", info.source.url))
                self._count(leaf, info.display_title, info.unread, bool(info.state.last_error))
                leaves.append(leaf)
            topics_of = (nodes[path] for path in paths_of[info.source.url])
            self._counting[info.source.url] = [*topics_of, *leaves]
        for folder in topics:
            if folder:
                topic(folder)
        self.root.expand()
        if chosen is not None:
            self.select(chosen, occurrence)

    def name_of(self, place: Place) -> str:
        """What the sidebar calls a place (a source by its title, Unfiled so), for notices."""
        if place.kind == "all":
            return "all sources"
        node = next((n for n in _walk(self.root) if n.data == place), None)
        counted = self._counted.get(node.id) if node is not None else None
        return counted[0] if counted else place.value

    def topic_of(self, place: Place) -> str:
        """The topic path `place` is in: a topic's own, a source's where the tree shows it
        (under the cursor, else its first place); "" for anything else (and Unfiled)."""
        if place.kind == "topic":
            return place.value
        node = self._here(place) if place.kind == "source" else None
        parent = node.parent if node is not None else None
        if parent is None or parent.data is None or parent.data.kind != "topic":
            return ""
        return parent.data.value

    def adjust_unread(self, changes: Mapping[str, int]) -> None:
        """Unread counts moved by entries read here (a change per source URL)."""
        if not self._unread_shown:
            return  # a search's counts are shown: reading moves none of them
        for url, change in changes.items():
            # An entry of a source no longer listed still counts in All.
            for node in (self.root, *self._counting.get(url, ())):
                self._move_count(node, change)

    def adjust_starred(self, change: int) -> None:
        """Entries starred (+) or unstarred (-) here."""
        node = self._starred
        if self._unread_shown and node is not None and node.id in self._counted:
            self._move_count(node, change)

    def _move_count(self, node: TreeNode[Place], change: int) -> None:
        name, count, failing = self._counted[node.id]
        self._count(node, name, max(0, count + change), failing)

    def _count(self, node: TreeNode[Place], name: str, count: int, failing: bool = False) -> None:
        self._counted[node.id] = (name, count, failing)
        node.set_label(_label(name, count, failing=failing))

    def show_facets(
        self,
        facets: dict[str, dict[str, int]],
        titles: dict[str, str],
        total: int,
        *,
        more: bool = False,
    ) -> None:
        """Counts of the current search by topic and by source. The cursor starts at the top;
        for another page of the same search (`more`) it stays on the count it was on."""
        cursor = self.cursor_node
        chosen = cursor.data if cursor is not None else None
        self.clear()
        self._counted, self._counting, self._unread_shown = {}, {}, False
        self._count(self.root, "All results", total)
        self.root.data = Place("all")
        topic_counts = sorted(facets.get("category", {}).items(), key=lambda kv: -kv[1])
        source_counts = sorted(facets.get("source", {}).items(), key=lambda kv: -kv[1])
        if topic_counts:
            topics = self.root.add(Text("Topics", style="bold"), data=Place("heading"), expand=True)
            for name, count in topic_counts:
                self._count(topics.add_leaf("", data=Place("facet-topic", name)), name, count)
        if source_counts:
            sources = self.root.add(
                Text("Sources", style="bold"), data=Place("heading"), expand=True
            )
            for url, count in source_counts:
                leaf = sources.add_leaf("", data=Place("facet-source", url))
                self._count(leaf, titles.get(url, url), count)
        self.root.expand()
        narrowed = more and chosen is not None and chosen.kind in _FACETS
        found = [n for n in _walk(self.root) if n.data == chosen] if narrowed else []
        self._cursor_to(found[0] if found else self.root)  # not the count on the old line

    def render_label(self, node: TreeNode[Place], base_style: Style, style: Style) -> Text:
        """As the tree draws it, but a long name gives way to its count, not the reverse."""
        text = super().render_label(node, base_style, style)
        counted = self._counted.get(node.id)
        room = self.scrollable_content_region.width - self.guide_depth * _depth(node)
        if counted is None or text.cell_len <= room or room <= 0:
            return text
        name, count, failing = counted
        toggle = 2 if node.allow_expand else 0  # the ▼ / ▶ before a topic
        label = _label(name, count, failing=failing, room=room - toggle)
        label.stylize(style)
        return Text.assemble(text[:toggle], label)

    def _here(self, place: Place) -> TreeNode[Place] | None:
        """The node of `place`: the one under the cursor when it is that place (a source
        filed in several topics is in the tree once for each), else the first."""
        cursor = self.cursor_node
        if cursor is not None and cursor.data == place:
            return cursor
        return next((n for n in _walk(self.root) if n.data == place), None)

    def select(self, place: Place, occurrence: int = 0) -> None:
        """Put the cursor on `place` (its topics opened to show it), without choosing it;
        `occurrence`: which of its nodes, for a source shown in several topics."""
        current = self.cursor_node
        if (
            occurrence == 0
            and current is not None
            and current.data == place
            and current is self.get_node_at_line(self.cursor_line)  # not the tree before
        ):
            return  # already there (not its first place: chosen in another topic)
        nodes = [n for n in _walk(self.root) if n.data == place]
        if not nodes:
            return
        node = nodes[min(occurrence, len(nodes) - 1)]
        parent = node.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        # A node's line is known once the tree's lines are built again after a change,
        # which asking for the last line does: the cursor went to the line a new node did
        # not have yet (the top, "All").
        last = self.last_line  # (first: a node's line is -1 until they are built)
        if 0 <= node.line <= last:
            self._cursor_to(node)

    def _cursor_to(self, node: TreeNode[Place]) -> None:
        """The cursor on `node`. The tree's cursor is a line: after the tree is made anew,
        its node is the one on that line only once the line changes (until then the old
        tree's node, while the new one's is highlighted), so it is moved off and back."""
        last = self.last_line  # the tree's lines built again
        if self.cursor_line == node.line and last > 0:
            self.cursor_line = node.line + 1 if node.line < last else node.line - 1
        self.move_cursor(node)

    @property
    def unread(self) -> int:
        """The library's unread entries as counted here (none while a search's are shown)."""
        counted = self._counted.get(self.root.id)
        return counted[1] if self._unread_shown and counted else 0

    def next_unread(self, place: Place, step: int) -> tuple[Place, str, int] | None:
        """The topic or source after `place` (`step` 1) or before it (-1), in this order and
        round from the end to the start, with unread entries that `place`'s list did not
        show: its place, name and that count. A topic's subtopics are in its list (passed
        over); a topic holding it counts its other entries only."""
        if not self._unread_shown:
            return None
        nodes = [n for n in _walk(self.root) if n.data is not None and n.data.kind == place.kind]
        here = self._here(place)
        if here is None:
            return None
        at = nodes.index(here)
        after, before = nodes[at + 1 :], nodes[:at]
        order = after + before if step > 0 else before[::-1] + after[::-1]
        shown = self._counted[here.id][1]
        for node in order:
            if _holds(here, node):
                continue
            name, count, _ = self._counted[node.id]
            if _holds(node, here):
                count -= shown
            if count > 0 and node.data is not None:
                return node.data, name, count
        return None

    def on_tree_node_selected(self, event: Tree.NodeSelected[Place]) -> None:
        event.stop()
        if event.node.data is not None and event.node.data.kind != "heading":
            self.post_message(self.Chosen(event.node.data))


_FACETS = ("facet-topic", "facet-source")
"""Places of a search's counts, which narrow it when chosen."""


def _label(name: str, count: int, *, failing: bool = False, room: int | None = None) -> Text:
    """`room`: cells the label may take; the name is shortened so that the count shows."""
    label = Text(no_wrap=True, overflow="ellipsis")
    if failing:
        label.append("! ", style="bold red")
    label.append(unjoined(name))  # a Text, never markup: source names come from feeds
    counted = f"  {count:,}" if count else ""
    if room is not None and label.cell_len + len(counted) > room:
        label.truncate(max(1, room - len(counted)), overflow="ellipsis")
    if counted:
        label.append(counted, style="bold cyan")
    return label


def _folders(info: SourceInfo) -> list[str]:
    """Where a source is shown: its folder, and each other folder its tags name."""
    return list(dict.fromkeys([info.source.category, *info.source.tags]))


def _all_topic_paths(info: SourceInfo) -> list[str]:
    """Every topic a source's entries are in, each once (`News/World` and `News/Politics`
    share `News`)."""
    return list(dict.fromkeys(p for folder in _folders(info) for p in _topic_paths(folder)))


def _topic_paths(category: str) -> list[str]:
    """ "a/b" → ["a", "a/b"]; a source without a topic is under the topic "" (`UNFILED`)."""
    parts = [p for p in category.split("/") if p]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))] or [""]


def _depth(node: TreeNode[Place]) -> int:
    depth, parent = 0, node.parent
    while parent is not None:
        depth, parent = depth + 1, parent.parent
    return depth


def _holds(outer: TreeNode[Place], node: TreeNode[Place]) -> bool:
    """Whether `node` is inside `outer` (a subtopic, or a topic's source)."""
    parent = node.parent
    while parent is not None:
        if parent is outer:
            return True
        parent = parent.parent
    return False


def _walk(node: TreeNode[Place]) -> list[TreeNode[Place]]:
    found = [node]
    for child in node.children:
        found.extend(_walk(child))
    return found
