"""The sidebar: topics → sources with unread counts and a mark for failing sources; during a
search, the counts by topic and source to narrow the results."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from aggregator.models import SourceInfo


@dataclass(frozen=True)
class Place:
    """What a sidebar node stands for."""

    kind: str  # "all", "topic", "source", "facet-topic", "facet-source", "heading"
    value: str = ""


class Sidebar(Tree[Place]):
    DEFAULT_CSS = """
    Sidebar { width: 30; background: $panel; padding: 0 1; }
    Sidebar.narrow { width: 22; }
    """

    class Chosen(Message):
        def __init__(self, place: Place) -> None:
            super().__init__()
            self.place = place

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text("All"), data=Place("all"), id=id)
        self.show_root = True
        self.guide_depth = 2
        self.auto_expand = False

    def show_sources(self, sources: list[SourceInfo], total_unread: int) -> None:
        """The library as topics and sources, keeping the selection where it was."""
        chosen = self.cursor_node.data if self.cursor_node is not None else None
        self.clear()
        self.root.set_label(_label("All", total_unread))
        self.root.data = Place("all")
        topics: dict[str, TreeNode[Place]] = {}
        unread_by_topic: dict[str, int] = {}
        for info in sources:
            parts = [p for p in info.source.category.split("/") if p] or ["Unfiled"]
            for i in range(len(parts)):
                path = "/".join(parts[: i + 1])
                unread_by_topic[path] = unread_by_topic.get(path, 0) + info.unread
        for info in sources:
            parts = [p for p in info.source.category.split("/") if p] or ["Unfiled"]
            parent = self.root
            for i in range(len(parts)):
                path = "/".join(parts[: i + 1])
                if path not in topics:
                    topics[path] = parent.add(
                        _label(parts[i], unread_by_topic[path]),
                        data=Place("topic", path),
                        expand=True,
                    )
                parent = topics[path]
            failing = bool(info.state.last_error)
            parent.add_leaf(
                _label(info.display_title, info.unread, failing=failing),
                data=Place("source", info.source.url),
            )
        self.root.expand()
        self._select(chosen)

    def show_facets(
        self, facets: dict[str, dict[str, int]], titles: dict[str, str], total: int
    ) -> None:
        """Counts of the current search by topic and by source."""
        self.clear()
        self.root.set_label(_label("All results", total))
        self.root.data = Place("all")
        topic_counts = sorted(facets.get("category", {}).items(), key=lambda kv: -kv[1])
        source_counts = sorted(facets.get("source", {}).items(), key=lambda kv: -kv[1])
        if topic_counts:
            topics = self.root.add(Text("Topics", style="bold"), data=Place("heading"), expand=True)
            for name, count in topic_counts:
                topics.add_leaf(_label(name, count), data=Place("facet-topic", name))
        if source_counts:
            sources = self.root.add(
                Text("Sources", style="bold"), data=Place("heading"), expand=True
            )
            for url, count in source_counts:
                sources.add_leaf(
                    _label(titles.get(url, url), count), data=Place("facet-source", url)
                )
        self.root.expand()

    def _select(self, place: Place | None) -> None:
        if place is None:
            return
        for node in _walk(self.root):
            if node.data == place:
                self.move_cursor(node)
                return

    def on_tree_node_selected(self, event: Tree.NodeSelected[Place]) -> None:
        event.stop()
        if event.node.data is not None and event.node.data.kind != "heading":
            self.post_message(self.Chosen(event.node.data))


def _label(name: str, count: int, *, failing: bool = False) -> Text:
    label = Text(no_wrap=True, overflow="ellipsis")
    if failing:
        label.append("! ", style="bold red")
    label.append(name)  # a Text, never markup: source names come from feeds
    if count:
        label.append(f"  {count:,}", style="bold cyan")
    return label


def _walk(node: TreeNode[Place]) -> list[TreeNode[Place]]:
    found = [node]
    for child in node.children:
        found.extend(_walk(child))
    return found
