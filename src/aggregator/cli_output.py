"""How the command line shows fetch runs and entries: Rich on a terminal, plain lines in a pipe,
one JSON document with `--json`. Untrusted text is always passed as `Text`, never as markup.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import click

from aggregator.library import markdown_page
from aggregator.models import (
    Entry,
    FetchProgress,
    FetchReport,
    RemovedSource,
    SearchResult,
    UpdateResult,
    plural,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress
    from rich.text import Text


class _LazyConsole:
    """A rich Console made on first use: a command that prints JSON never imports rich
    (about 30 ms of every such run)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console(), name)

    def console(self) -> Console:
        """The Console itself, for what takes one (a progress display enters it)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console


out = _LazyConsole(highlight=False, soft_wrap=True)
err = _LazyConsole(stderr=True, highlight=False, soft_wrap=True)


def text(value: str = "", style: str = "") -> Text:
    """Untrusted text as rich Text, never as markup (rich loads with the first line shown)."""
    from rich.text import Text

    return Text(value, style=style)


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def removed_line(gone: RemovedSource) -> str:
    """What `sources remove` did, starred entries kept included."""
    name = gone.source.display_title + ("" if gone.listed else " (no longer in the list)")
    line = f"Removed {name} and {plural(gone.removed, 'entry', 'entries')}"
    if gone.kept_starred:
        kept = plural(gone.kept_starred, "starred entry", "starred entries")
        line += f"; kept its {kept} (remove it again to delete them too)"
    return line


class FetchDisplay:
    """A progress bar on a terminal; a line per finished source otherwise; nothing for JSON."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.fancy = not quiet and err.is_terminal
        self._progress: Progress | None = None
        self._task: Any = None
        self._index_task: Any = None

    def __enter__(self) -> FetchDisplay:
        if self.fancy:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[new]}"),
                TimeElapsedColumn(),
                console=err.console(),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("Fetching", total=None, new="", failed=0)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def indexing(self, done: int, total: int) -> None:
        """The second phase: what was stored becomes searchable."""
        if self._progress is not None:
            if self._index_task is None:
                self._index_task = self._progress.add_task("Indexing", total=total, new="entries")
                self._progress.update(self._task, visible=False)
            self._progress.update(self._index_task, completed=done, total=total)

    def update(self, event: FetchProgress) -> None:
        if self.quiet:
            return
        if self._progress is not None:
            self._progress.update(
                self._task,
                completed=event.done,
                total=event.total,
                new=f"{event.new:,}",
                failed=event.failed,
            )
        elif event.last is not None:
            click.echo(_plain_line(event.last))

    def summary(self, report: FetchReport) -> None:
        if self.fancy:
            for result in report.results:
                line = _fancy_line(result)
                if line is not None:
                    out.print(line)
        for skipped in report.skipped:
            err.print(text(f"skipped {skipped.title}: {skipped.reason}", style="dim"))
        if report.offline:
            err.print(
                text(
                    "offline: no source could be reached; nothing was marked broken", style="yellow"
                )
            )
        if report.interrupted:
            err.print(text("interrupted: what was fetched so far is stored", style="yellow"))
        if report.index_error:
            err.print(
                text(
                    f"stored, not yet searchable: {report.index_error} (the next fetch or "
                    "search indexes it)",
                    style="yellow",
                )
            )
        total = (
            f"{plural(len(report.results), 'source')} in {report.took_s:.1f} s: "
            f"{plural(report.new, 'new entry', 'new entries')}, {report.updated:,} updated, "
            f"{report.failed:,} failed"
        )
        out.print(text(total, style="bold" if self.fancy else ""))


def _plain_line(r: UpdateResult) -> str:
    moved = f"moved permanently to {r.moved_to}" if r.moved_to else ""
    note = "; ".join(n for n in (r.error or r.warning, moved) if n)
    fields = [r.status, str(r.new), str(r.updated), r.url, note]
    return "\t".join(fields)


def _fancy_line(r: UpdateResult) -> Text | None:
    if r.status == "failed":
        return text(f"✗ {r.title}: {r.error}", style="red")
    parts = []
    if r.new:
        parts.append(f"{r.new:,} new")
    if r.updated:
        parts.append(f"{r.updated:,} updated")
    if r.articles or r.articles_failed:
        parts.append(
            f"{r.articles} full articles"
            + (f", {r.articles_failed} kept partial" if r.articles_failed else "")
        )
    if r.moved_to:
        parts.append(f"moved permanently to {r.moved_to}: update your list")
    if r.warning:
        parts.append(r.warning)
    if not parts:
        return None
    return text(f"✓ {r.title}: {'; '.join(parts)}")


def fetch_json(report: FetchReport) -> dict[str, Any]:
    return {
        "sources": [
            {
                "url": r.url,
                "title": r.title,
                "status": r.status,
                "new": r.new,
                "updated": r.updated,
                "unchanged": r.unchanged,
                "error": r.error,
                "warning": r.warning,
                "moved_to": r.moved_to,
                "articles": r.articles,
                "articles_failed": r.articles_failed,
            }
            for r in report.results
        ],
        "new": report.new,
        "updated": report.updated,
        "failed": report.failed,
        "took_s": round(report.took_s, 3),
        "skipped": [{"url": s.url, "reason": s.reason} for s in report.skipped],
        "offline": report.offline,
        "interrupted": report.interrupted,
        "index_error": report.index_error or None,
    }


def entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "title": entry.title,
        "url": entry.url,
        "source": entry.source_title or entry.source_url,
        "source_url": entry.source_url,
        "category": entry.category,
        "author": entry.author,
        "published": iso(entry.published),
        "seen": iso(entry.seen),
        "markdown": entry.markdown,
        "text": entry.text,
        "partial": entry.partial,
        "full_text": entry.full_text,
        "read": entry.read,
        "starred": entry.starred,
        "enclosures": [
            {
                "url": f.url,
                "type": f.type,
                "length": f.length,
                "duration": f.duration,
                "title": f.title,
            }
            for f in entry.enclosures
        ],
    }


def _dated(published: datetime | None, seen: datetime | None, fmt: str) -> str:
    """The date the source gave, else the day the library first stored it, said so."""
    if published:
        return published.astimezone().strftime(fmt)
    return f"undated, first seen {seen.astimezone().strftime(fmt)}" if seen else ""


def render_entry(entry: Entry, *, text: str | None = None) -> str:
    """An entry as `read` prints it: a Markdown page, or plain text given `text` (the
    library's reading text, `Library.entry_text`)."""
    meta = [
        part
        for part in (
            entry.source_title or entry.source_url,
            entry.author,
            _dated(entry.published, entry.seen, "%Y-%m-%d %H:%M"),
        )
        if part
    ]
    note = ""
    if entry.partial and entry.earlier_article:
        note = "(partial: its page could not be fetched again; shown as fetched before)"
    elif entry.partial:
        note = "(partial: the full article could not be fetched; this is what the feed gave)"
    elif entry.full_text == "pending" and entry.earlier_article:
        note = "(its page is checked again on the next run; shown as fetched before)"
    elif entry.full_text == "pending":
        note = "(a teaser: the full article will be fetched on the next run)"
    title = entry.title or "(untitled)"
    if text is None:  # Markdown (which lists the entry's files under its text)
        return markdown_page(title, meta, entry.url, note, entry.markdown)
    head = [title, "", " · ".join(meta)]
    if entry.url:
        head.append(entry.url)
    if note:
        head += ["", note]
    files = [f"{f.url} ({f.describe()})" for f in entry.enclosures]
    tail = ["", "Attachments:", *files] if files else []
    return "\n".join([*head, "", text, *tail]).rstrip() + "\n"


# -- search ------------------------------------------------------------------------------------


def search_json(result: SearchResult) -> dict[str, Any]:
    return {
        "query": result.query,
        "total": result.total,
        "took_ms": round(result.took_ms, 1),
        "hits": [
            {
                "id": h.id,
                "title": h.title,
                "url": h.url,
                "source": h.source,
                "source_url": h.source_url,
                "category": h.category,
                "published": iso(h.published),
                "seen": iso(h.seen),
                "score": h.score,
                "snippet": h.snippet,
                "highlights": [list(span) for span in h.highlights],
                "also_in": list(h.also_in),
                "read": h.read,
                "starred": h.starred,
            }
            for h in result.hits
        ],
        "facets": result.facets,
        "source_titles": result.source_titles,
        "suggestion": result.suggestion or None,
        "interpretation": result.interpretation or None,
        "pending": result.pending,
        "exact": result.exact,
        "sort": result.sort,
    }


def print_search(result: SearchResult) -> None:
    """Ranked hits with their snippets, Rich on a terminal and tab-separated in a pipe."""
    if not out.is_terminal:
        for h in result.hits:
            date = h.published.astimezone().date().isoformat() if h.published else ""
            also = ", ".join(h.also_in)  # the story's other sources, when it has some
            fields = [h.id, date, h.category, h.source, h.title, h.url, h.snippet, also]
            click.echo("\t".join(" ".join(f.split()) for f in fields))
        _search_notes(result)
        return
    about = "" if result.exact else "about "
    # Entries, not hits: a story carried by several sources is one hit naming them all.
    head = text(f"{about}{plural(result.total, 'entry', 'entries')}", style="bold")
    head.append(f" · {result.took_ms:.0f} ms", style="dim")
    out.print(head)
    _search_notes(result)
    for number, h in enumerate(result.hits, 1):
        out.print()
        line = text(f"{number:>2}. ", style="dim")
        if h.title or not h.first_words:
            line.append(h.title or "(untitled)", style="bold")
        else:  # no title from the source: its first words, marked as not a title
            line.append(h.first_words, style="bold italic")
        out.print(line)
        date = _dated(h.published, h.seen, "%Y-%m-%d")
        meta = " · ".join(p for p in (h.source, h.category, date, h.id) if p)
        if h.also_in:
            meta += " · also in " + ", ".join(h.also_in)
        out.print(text("    " + meta, style="cyan"))
        snippet = text(h.snippet)
        for start, end in h.highlights:
            snippet.stylize("bold yellow", start, end)
        # Wrapped at words, indented under the title (the other lines are left whole: a URL
        # or an id is copied from a terminal, not read across a break).
        for part in snippet.wrap(out.console(), max(20, out.width - 4)):
            part.rstrip()
            out.print(text("    ") + part)
        if h.url:
            out.print(text("    " + h.url, style="dim"))
    facets = []
    for name, counts in result.facets.items():
        if counts:
            labels = [
                f"{result.source_titles.get(k, k) if name == 'source' else k} {v}"
                for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:6]
            ]
            facets.append(f"{name}: " + " · ".join(labels))
    if facets:
        out.print()
        for line in facets:
            out.print(text(line, style="dim"))


def _search_notes(result: SearchResult) -> None:
    if result.interpretation:
        err.print(text(f"read as: {result.interpretation}", style="dim"))
    if result.suggestion:
        err.print(text(f"did you mean: {result.suggestion}", style="yellow"))
    if result.pending:
        err.print(
            text(
                f"{plural(result.pending, 'entry', 'entries')} not searchable yet "
                "(search again once they are indexed)",
                style="yellow",
            )
        )
