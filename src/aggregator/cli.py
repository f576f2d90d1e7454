"""The command line: parse arguments, call `Library`, format the answer, pick the exit code.

Exit codes (a contract other tools rely on): 0 success; 1 a user error (bad file, URL, query,
id, or a bad option) with a one-line message; 2 an environment error (unwritable data dir,
damaged or newer library, a lock held too long). No traceback reaches the user.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from aggregator import __version__
from aggregator.cli_output import (
    FetchDisplay,
    entry_json,
    err,
    fetch_json,
    iso,
    out,
    print_search,
    removed_line,
    render_entry,
    search_json,
    text,
)
from aggregator.config import HOME_ENV, MAX_CONCURRENCY, MAX_PER_HOST, load_settings
from aggregator.errors import AggregatorError
from aggregator.library import Library, open_library
from aggregator.models import SkippedOutline, SourceInfo, plural

if TYPE_CHECKING:
    from rich.table import Table


class Context:
    """What the global options resolved to; the library is opened on first use."""

    def __init__(self, data_dir: str | None, opml: str | None) -> None:
        self.data_dir = data_dir
        self.opml = opml

    @contextmanager
    def library(self, *, new_list: bool = False) -> Iterator[Library]:
        """The library; with `new_list`, a list named with --opml may not exist yet."""
        settings = load_settings(data_dir=self.data_dir, opml=self.opml)
        with open_library(settings, new_list=new_list) as library:
            yield library
            if library.list_problem:  # said after the output, which it did not stop
                err.print(
                    text(
                        f"{library.list_problem}: the sources shown are as last read; fix the "
                        "list to change them or to fetch",
                        style="yellow",
                    )
                )


pass_context = click.make_pass_decorator(Context)


class _PipeClosed(Exception):
    """Standard output was closed by its reader (`| head`)."""


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        # Click turns a closed pipe into exit(1), the code for a mistake of the user's:
        # carried past it as something that is not an OSError, `run` ends it quietly.
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise _PipeClosed from None


@click.group(
    cls=_Group,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--data-dir",
    type=click.Path(),  # (a file there is the library's error, as for AGGREGATOR_HOME)
    help=f"Keep the library and its config here (default: per-user dirs; env {HOME_ENV}).",
)
@click.option(
    "--opml", type=click.Path(dir_okay=False), help="Use this OPML file as the source list."
)
@click.version_option(__version__, prog_name="aggregator")
@click.pass_context
def cli(ctx: click.Context, data_dir: str | None, opml: str | None) -> None:
    """An offline-first library of the feeds and pages you choose."""
    ctx.obj = Context(data_dir, opml)
    if ctx.invoked_subcommand is None:
        if sys.stdout.isatty() and sys.stdin.isatty():
            _run_tui(ctx.obj)
        else:
            click.echo(ctx.get_help())  # not a terminal: the commands, not a UI


@cli.command()
@pass_context
def tui(obj: Context) -> None:
    """Open the terminal UI (what `aggregator` alone does)."""
    _run_tui(obj)


@cli.command()
def demo() -> None:
    """Open the terminal UI on a library of sample articles: no network needed."""
    _run_demo()


def _run_tui(obj: Context) -> None:
    if not sys.stdout.isatty():
        raise click.UsageError(
            "the terminal UI needs a terminal; see `aggregator --help` for commands"
        )
    from aggregator.tui.app import AggregatorApp

    settings = load_settings(data_dir=obj.data_dir, opml=obj.opml)
    with open_library(settings) as library:
        result = AggregatorApp(settings, library=library, refresh_on_start=library.first_run).run()
    if result == "demo":
        _run_demo()


def _run_demo() -> None:
    if not sys.stdout.isatty():
        raise click.UsageError("the demo is the terminal UI and needs a terminal")
    from aggregator.library.demo import open_demo
    from aggregator.tui.app import AggregatorApp

    demo_library = open_demo()
    try:
        with open_library(demo_library.settings) as library:
            AggregatorApp(
                demo_library.settings, library=library, refresh_on_start=True, demo=True
            ).run()
    finally:
        demo_library.close()


# -- sources -----------------------------------------------------------------------------------


@cli.group()
def sources() -> None:
    """List, add, remove and check the sources in your OPML list."""


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Also the sources out of the list whose entries the library still holds.",
)
@pass_context
def sources_list(obj: Context, as_json: bool, everything: bool) -> None:
    """Every source with its topic, entry and unread counts, and health."""
    with obj.library() as library:
        infos = library.sources(unlisted=everything)
        refused = library.refused_outlines()
    _say_refused(refused)
    if as_json:
        rows = [_source_json(info) for info in infos]
        if everything:  # the store keeps no type or page of a source out of the list
            unknown = dict.fromkeys(("type", "html_url", "full_text"))
            rows = [
                {**row, **({} if info.listed else unknown), "listed": info.listed}
                for row, info in zip(rows, infos, strict=True)
            ]
        _print_json(rows)
    elif out.is_terminal:
        out.print(_sources_table(infos))
    else:
        for info in infos:
            s = info.source
            status = info.state.last_error or ("ok" if info.state.last_success else "new")
            if not info.listed:
                status = "not in the list"
            elif info.state.moved_to:  # so the list can be updated by hand or by a script
                status += f"; moved permanently to {info.state.moved_to}"
            fields = [s.category, info.display_title, s.url, info.entries, info.unread, status]
            click.echo("\t".join(map(str, fields)))


@sources.command("add")
@click.argument("url")
@click.option("--category", default="", help="Topic folder, e.g. Medicine or Medicine/Oncology.")
@click.option("--title", default="", help="Name to show (default: the feed's own title).")
@click.option(
    "--selector",
    default="",
    help="Follow a page without a feed: CSS selector of the links to its articles.",
)
@click.option("--no-discover", is_flag=True, help="Add the URL as given, without the network.")
@pass_context
def sources_add(
    obj: Context, url: str, category: str, title: str, selector: str, no_discover: bool
) -> None:
    """Add URL: a feed, or a site whose feed is found for you."""
    with obj.library(new_list=True) as library:
        added = library.add_source(
            url, category=category, title=title, selector=selector, discover=not no_discover
        )
    source = added.source
    where = f" in {source.category}" if source.category else ""
    out.print(text(f"Added {source.display_title}{where} ({source.url})"))
    if added.offered:
        err.print("The page also offers:")
        for feed in added.offered:
            err.print(text(f"  {feed.title or feed.url} ({feed.kind}): {feed.url}"))
    if added.warning:
        err.print(text(f"warning: {added.warning}"))


@sources.command("check")
@click.option("--source", "urls", multiple=True, help="Check only this source (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_context
def sources_check(obj: Context, urls: tuple[str, ...], as_json: bool) -> None:
    """Fetch and parse every source now, storing nothing, and say how each one is."""
    with obj.library() as library:
        results = library.check_sources(urls)
    if as_json:
        _print_json(
            [
                {
                    "url": r.url,
                    "title": r.title,
                    "status": r.status,
                    "entries": r.unchanged,
                    "error": r.error,
                    "warning": r.warning,
                    "moved_to": r.moved_to,
                }
                for r in results
            ]
        )
        return
    for r in results:
        if r.status == "ok":
            line = f"ok      {r.title}: {plural(r.unchanged, 'entry', 'entries')}"
            if r.moved_to:
                line += f" (moved permanently to {r.moved_to})"
            if r.warning:  # as fetch's summary says it
                line += f" ({r.warning})"
        else:
            line = f"failed  {r.title}: {r.error}"
        out.print(text(line, style="" if r.status == "ok" else "red"))
    failed = sum(r.status != "ok" for r in results)
    if len(results) > 1:
        err.print(
            text(f"{plural(len(results), 'source')}: {len(results) - failed} ok, {failed} failed")
        )


@sources.command("remove")
@click.argument("url")
@pass_context
def sources_remove(obj: Context, url: str) -> None:
    """Remove URL from the source list, with its stored entries."""
    with obj.library() as library:
        gone = library.remove_source(url)
        out.print(text(removed_line(gone)))
        try:
            library.update_index()  # searches leave them out already; the index follows now
        except (AggregatorError, OSError) as exc:
            err.print(text(f"the search index follows later: {exc}", style="yellow"))


# -- fetch and read ----------------------------------------------------------------------------


def _say_refused(refused: Sequence[SkippedOutline]) -> None:
    """Never silent: the file holds these outlines, and aggregator does not use them."""
    for outline in refused:
        where = outline.url or outline.title or "(no URL)"
        err.print(text(f"not used: {where}: {outline.reason}"))


@cli.command()
@click.option("--source", "urls", multiple=True, help="Fetch only this source (repeatable).")
@click.option("--category", help="Fetch only the sources under this topic.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, MAX_CONCURRENCY),
    help="Requests in flight at once.",
)
@click.option(
    "--per-host", type=click.IntRange(1, MAX_PER_HOST), help="Requests in flight per host."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_context
def fetch(
    obj: Context,
    urls: tuple[str, ...],
    category: str | None,
    concurrency: int | None,
    per_host: int | None,
    as_json: bool,
) -> None:
    """Fetch every due source and store what is new."""
    with obj.library() as library:
        show = FetchDisplay(quiet=as_json)
        with show:
            report = library.fetch(
                urls,
                category=category,
                concurrency=concurrency,
                per_host=per_host,
                progress=show.update,
                index_progress=show.indexing,
            )
        refused = () if urls else library.refused_outlines()
    _say_refused(refused)
    if as_json:
        _print_json(fetch_json(report))
    else:
        show.summary(report)
        if category and not report.results and not report.skipped:  # an empty topic
            add = f"aggregator sources add URL --category {shlex.quote(category)}"
            err.print(text(f"the topic '{category}' has no sources yet: {add}"))
    if report.interrupted:
        raise click.exceptions.Exit(130)  # what was stored stays; the shell learns of the ^C


@cli.command()
@click.argument("entry_id", metavar="ID")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "text", "json"]),
    default="markdown",
    show_default=True,
)
@pass_context
def read(obj: Context, entry_id: str, fmt: str) -> None:
    """Print a stored entry."""
    with obj.library() as library:
        entry = library.entry(entry_id)
        text = library.entry_text(entry) if fmt == "text" else ""
    if fmt == "json":
        _print_json(entry_json(entry))
    elif fmt == "text":
        click.echo(render_entry(entry, text=text), nl=False)  # (it ends a line)
    else:
        click.echo(render_entry(entry), nl=False)


@cli.command()
@click.argument("entry_ids", nargs=-1, required=True, metavar="ID...")
@click.option("--read", "as_read", is_flag=True, help="Mark read.")
@click.option("--unread", "as_unread", is_flag=True, help="Mark unread.")
@click.option("--star", is_flag=True, help="Star.")
@click.option("--unstar", is_flag=True, help="Unstar.")
@pass_context
def mark(
    obj: Context,
    entry_ids: tuple[str, ...],
    as_read: bool,
    as_unread: bool,
    star: bool,
    unstar: bool,
) -> None:
    """Mark entries by ID (as search and read give them): read, unread, starred or not."""
    for one, other in (("read", as_read and as_unread), ("star", star and unstar)):
        if other:  # as a --x/--no-x pair, the last would silently win
            raise click.UsageError(f"--{one} and --un{one} contradict each other: give one")
    read = True if as_read else False if as_unread else None
    starred = True if star else False if unstar else None
    if read is None and starred is None:
        raise click.UsageError("say what to mark: --read, --unread, --star or --unstar")
    with obj.library() as library:
        count = library.mark(entry_ids, read=read, starred=starred)
    what = [w for w, on in (("read", read), ("unread", read is False)) if on] + [
        w for w, on in (("starred", starred), ("unstarred", starred is False)) if on
    ]
    err.print(text(f"Marked {plural(count, 'entry', 'entries')} {' and '.join(what)}"))


class _Words(click.Command):
    """A command whose arguments after `--` are words as written, whatever they look like:
    click drops the `--`, so it is counted here."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_LITERAL] = len(args) - args.index("--") - 1 if "--" in args else 0
        return super().parse_args(ctx, args)


_LITERAL = "aggregator.literal_words"


# Only `--help` here: `-health` would otherwise be read as `-h -e -a …`, and print the help.
@cli.command(
    cls=_Words,
    context_settings={"ignore_unknown_options": True, "help_option_names": ["--help"]},
)
@click.argument("words", nargs=-1, required=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option(
    "--sort", type=click.Choice(["relevance", "newest"]), default="relevance", show_default=True
)
@click.option("--category", help="Only this topic (and its subtopics).")
@click.option("--source", "source_url", help="Only this source (its URL).")
@click.option("--unread", is_flag=True, help="Only unread entries.")
@click.option("--starred", is_flag=True, help="Only starred entries.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_context
def search(
    obj: Context,
    words: tuple[str, ...],
    limit: int,
    sort: str,
    category: str | None,
    source_url: str | None,
    unread: bool,
    starred: bool,
    as_json: bool,
) -> None:
    """Search the library: words, "phrases", OR, NOT, -word, field:value, published:>2024-06.

    The query may be one argument or several (joined by spaces); a word starting with `-`
    is a word to exclude, not an option, unless it is one of the options below. Words
    after `--` are words whatever they look like (`search -- --verbose`).
    """
    if words == ("-h",):  # alone, it is the help it is everywhere else
        click.echo(click.get_current_context().get_help())
        return
    # `--limt 3` is a mistyped option, never words to search for (`-word` is one to exclude),
    # unless it comes after `--`.
    typed = words[: len(words) - click.get_current_context().meta.get(_LITERAL, 0)]
    mistyped = next((w for w in typed if re.fullmatch(r"--[A-Za-z][\w-]*(=.*)?", w)), None)
    if mistyped:
        raise click.UsageError(f"no such option: {mistyped.split('=')[0]}")
    query = " ".join(words)

    def catching_up(done: int, total: int) -> None:
        # Said from a script too: rebuilding a large library's index (a new index format)
        # takes a minute, and silence looks like a hang.
        if done == 0 and not as_json:
            err.print(text(f"Indexing {plural(total, 'entry', 'entries')} first…", style="dim"))

    with obj.library() as library:
        category, source_url = library.check_search_filters(category, source_url)
        try:
            library.catch_up(catching_up)  # what a crash, a Ctrl-C or a new index format left
        except (AggregatorError, OSError) as exc:  # searching what is indexed is still worth it
            err.print(text(f"could not index what is waiting: {exc}", style="yellow"))
        result = library.search(
            query,
            limit=limit,
            sort=sort,
            category=category,
            source=source_url,
            unread=unread,
            starred=starred,
        )
    if as_json:
        _print_json(search_json(result))
    else:
        print_search(result)


@cli.command()
@pass_context
def reindex(obj: Context) -> None:
    """Rebuild the search index from the library (the library is the truth)."""
    started = time.monotonic()
    with obj.library() as library, FetchDisplay(quiet=False) as show:
        count = library.reindex(show.indexing)
    out.print(
        text(f"Indexed {plural(count, 'entry', 'entries')} in {time.monotonic() - started:.1f} s")
    )


# -- opml --------------------------------------------------------------------------------------


@cli.group("opml")
def opml_group() -> None:
    """Import and export the source list as OPML."""


@opml_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_context
def opml_import(obj: Context, file: str) -> None:
    """Add the feeds of another OPML list (FILE, or - for standard input) to yours (existing
    ones are kept as they are)."""
    if file == "-":  # (a file of that name is ./-)
        file = "/dev/stdin"
    with obj.library(new_list=True) as library:
        report = library.import_opml(file)
    details = []
    if report.already_present:
        details.append(f"{report.already_present} already present")
    if report.merged:
        details.append(f"{plural(report.merged, 'duplicate')} merged")
    if report.skipped:
        details.append(f"{len(report.skipped)} skipped")
    tail = f" ({', '.join(details)})" if details else ""
    out.print(text(f"Imported {plural(len(report.added), 'source')}{tail}"))
    for skipped in report.skipped:
        err.print(text(f"skipped {skipped.url or skipped.title or '(no URL)'}: {skipped.reason}"))


@opml_group.command("export")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@pass_context
def opml_export(obj: Context, file: str | None) -> None:
    """Write the source list as OPML 2.0 to FILE, or to standard output (no FILE, or -)."""
    if file == "-":  # (a file of that name is ./-)
        file = None
    with obj.library() as library:
        data = library.export_opml(file)
        itself = file is not None and library.is_source_list(file)
    if file is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    elif itself:
        err.print(text(f"{file} is your source list: left as it is"))
    else:
        err.print(text(f"Wrote {file}"))


# -- stats -------------------------------------------------------------------------------------


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_context
def stats(obj: Context, as_json: bool) -> None:
    """Counts of sources, entries, unread, starred and indexed entries."""
    with obj.library() as library:
        result = library.stats()
    fields = {
        "sources": result.sources,
        "entries": result.entries,
        "unread": result.unread,
        "starred": result.starred,
        "indexed": result.indexed,
        "pending_index": result.pending_index,
    }
    if as_json:
        _print_json(fields)
    else:
        width = max(len(k) for k in fields)
        for key, value in fields.items():
            click.echo(f"{key.replace('_', ' '):<{width}}  {value}")


# -- formatting --------------------------------------------------------------------------------


def _source_json(info: SourceInfo) -> dict[str, Any]:
    s, state = info.source, info.state
    return {
        "url": s.url,
        "title": info.display_title,
        "category": s.category,
        "type": s.type,
        "entries": info.entries,
        "unread": info.unread,
        "last_success": iso(state.last_success),
        "last_error": state.last_error,
        "failures": state.failures,
        "next_attempt": iso(state.next_attempt),
        "moved_to": state.moved_to,
        "html_url": s.html_url,
        "full_text": s.full_text,
    }


def _sources_table(infos: list[SourceInfo]) -> Table:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("Topic", style="cyan", no_wrap=True)
    table.add_column("Source", overflow="fold")
    table.add_column("Entries", justify="right")
    table.add_column("Unread", justify="right")
    table.add_column("Last success", no_wrap=True)
    table.add_column("Health", overflow="fold")
    for info in infos:
        state = info.state
        if not info.listed:  # its address, to remove it with
            health = text(f"not in the list: {info.source.url}", style="yellow")
        elif state.last_error:
            health = text(f"✗ {state.last_error}", style="red")
        elif state.last_success:
            health = text("✓ ok", style="green")
        else:
            health = text("not fetched yet", style="dim")
        if state.moved_to:
            health.append(f"; moved permanently to {state.moved_to}", style="yellow")
        table.add_row(
            text(info.source.category or "—"),
            text(info.display_title),
            str(info.entries),
            str(info.unread),
            text(_local_time(state.last_success) or "never"),
            health,
        )
    return table


def _local_time(value: datetime | None) -> str | None:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else None


def _print_json(document: object) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


# -- entry point -------------------------------------------------------------------------------


def run(argv: list[str] | None = None) -> int:
    """Run the command line; every failure becomes one line on stderr and an exit code."""
    try:
        result = cli.main(args=argv, prog_name="aggregator", standalone_mode=False)
    except AggregatorError as exc:
        _fail(str(exc))
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        _fail(exc.format_message())
        return 1
    except (click.Abort, KeyboardInterrupt) as exc:
        if isinstance(exc.__cause__, EOFError):
            # Click turns any EOFError into Abort, meant for Ctrl-D at a prompt; this
            # program has no prompt: it is data that ended early.
            return _internal_error(exc.__cause__)
        _fail("interrupted")
        return 130
    except (BrokenPipeError, _PipeClosed):
        # `aggregator ... | head` closed the pipe: not an error worth a message.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # the machine's problem (a full disk, standard output on /dev/full)
        _fail(_os_problem(exc))
        return 2
    except Exception as exc:
        return _internal_error(exc)
    return result if isinstance(result, int) else 0


def _os_problem(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


def _internal_error(exc: BaseException) -> int:
    """A failure no one planned for: one line (the traceback with AGGREGATOR_DEBUG), exit 3."""
    if os.environ.get("AGGREGATOR_DEBUG"):
        raise exc
    _fail(f"internal error: {type(exc).__name__}: {exc} (set AGGREGATOR_DEBUG=1 for details)")
    return 3


def _fail(message: str) -> None:
    # Standard error may be gone too (a closed or full terminal): the exit code says it then.
    with suppress(OSError):
        err.print(
            text(f"aggregator: {' '.join(message.split())}"), style="red" if err.is_terminal else ""
        )
