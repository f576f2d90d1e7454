"""The source list: the user's OPML file, mirrored into the store."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace

from aggregator import sources as opml
from aggregator.config import Settings
from aggregator.errors import (
    DataDirError,
    InvalidSourceError,
    OpmlError,
    SourceNotFoundError,
    UserError,
)
from aggregator.locks import exclusive
from aggregator.models import (
    UNFILED,
    AddedSource,
    ImportReport,
    OpmlDocument,
    RemovedSource,
    SkippedOutline,
    Source,
    SourceInfo,
    SourceState,
    topic_names,
)
from aggregator.sanitize import one_line
from aggregator.store import Store

DEFAULT_LIST_TITLE = "aggregator sources"
LIST_WAIT_S = 10.0
"""How long a change of the list waits for another process's change to finish."""


class SourceList:
    settings: Settings
    store: Store
    _list_title: str
    _list_cache: tuple[tuple[int, int], OpmlDocument] | None
    _list_refused: tuple[SkippedOutline, ...] = ()
    """Outlines of the list that are not sources here: kept when the list is rewritten."""
    _list_folders: tuple[str, ...] = ()
    """The list's folders as topic paths, empty ones too (`OpmlDocument.folders`)."""
    list_problem: str = ""
    """Why the list could not be read, when the library shows its sources as last read
    instead (reading and searching go on; changing the list or fetching waits for a fix)."""

    def _read_list(self, *, changing: bool = False, fresh: bool = False) -> list[Source]:
        """The list as the file holds it now: read again only when the file has changed.

        A list that exists and cannot be read (a hand edit half done, a bad character) must
        not keep the library from being read and searched: unless `changing` it (a change
        saved from the sources as last read would overwrite the user's file), the sources as
        the store last had them stand in, and `list_problem` says why. `fresh`: read
        whatever the file's time and size (`_read_list_file`)."""
        try:
            sources = self._read_list_file(cached=not fresh)
        except OpmlError as exc:
            if changing or not self.settings.opml_path.exists():
                raise
            self.list_problem = str(exc)
            return self.store.listed_sources()
        self.list_problem = ""
        return sources

    def _read_list_file(self, *, cached: bool = True) -> list[Source]:
        """The list, read again when its file's time or size changed, or always (not
        `cached`) for a change: another library sharing the file may have saved it within
        the same clock tick, at the same size (another source's address as long)."""
        path = self.settings.opml_path
        try:
            stat = os.stat(path)
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None  # reading it says what is wrong
        last = self._list_cache if cached else None
        if stamp is not None and last is not None and last[0] == stamp:
            document = last[1]
        else:
            document = opml.read_opml_file(path)
            self._list_cache = (stamp, document) if stamp is not None else None
        if opml.unread_part(document) == opml.CUT_SHORT:
            # Its first part only: read as the list, the sources after the cut would go.
            raise OpmlError(f"{path}: {opml.CUT_SHORT}", path=str(path))
        self._list_title = document.title or DEFAULT_LIST_TITLE
        self._list_refused = document.skipped
        self._list_folders = document.folders
        return list(document.sources)

    def refused_outlines(self) -> tuple[SkippedOutline, ...]:
        """Outlines of the user's list that are not sources here, each with its reason."""
        self._read_list()
        return self._list_refused

    def _save_list(self, sources: list[Source]) -> None:
        """The library told first, then the file: a library too busy or too full to take a
        change refuses it with the list untouched (the command said it failed after the list
        had already changed). The file failing after leaves the library ahead of it, which
        the next run's sync brings back in step."""
        self.store.sync_sources(sources)
        self._write_list(sources)

    def _write_list(self, sources: list[Source]) -> None:
        try:
            opml.save_opml(
                self.settings.opml_path,
                sources,
                title=self._list_title,
                kept=self._list_refused,
                in_place=True,
            )
        except OSError as exc:
            path = str(self.settings.opml_path)
            raise DataDirError(f"cannot write {path}: {exc.strerror or exc}", path=path) from None

    @contextmanager
    def _changing_list(self) -> Iterator[list[Source]]:
        """The list as the file holds it now, to change and save before leaving: one process
        at a time, so two changes at once (two `sources add`, the terminal UI and a script)
        each start from the other's result instead of one overwriting the other."""

        def busy(waited: float) -> UserError:
            return UserError(
                f"another aggregator has been changing the source list for {waited:.0f} s; "
                "try again when it is done"
            )

        with ExitStack() as held:
            try:  # every library that shares the list (named with --opml) takes turns
                lock = exclusive(self.settings.opml_path, LIST_WAIT_S, busy, replaced=True)
                held.enter_context(lock)
            except OSError:  # no list yet, or one that cannot be opened: this library's own
                own = self.settings.data_dir / "list.lock"
                held.enter_context(exclusive(own, LIST_WAIT_S, busy))
            yield self._list_to_change()

    def _list_to_change(self) -> list[Source]:
        """The list, or none yet where there is no file: a change starts one there (the
        default list is written at the first run; this is a list named with `--opml`)."""
        if not os.path.lexists(self.settings.opml_path):
            self._list_title, self._list_refused, self._list_folders = DEFAULT_LIST_TITLE, (), ()
            return []
        return self._read_list(changing=True, fresh=True)

    def sources(self, *, unlisted: bool = False) -> list[SourceInfo]:
        """Every source in list order, with its fetch health and entry counts; `unlisted`:
        then those the library holds that the list no longer has."""
        listed = self._read_list()
        states = self.store.source_states()
        counts = self.store.source_counts()

        def info(s: Source, in_list: bool) -> SourceInfo:
            entries, unread = counts.get(s.url, (0, 0))
            state = states.get(s.url, SourceState(url=s.url))
            return SourceInfo(s, state, entries=entries, unread=unread, listed=in_list)

        out = self.store.unlisted_sources() if unlisted else []
        return [info(s, True) for s in listed] + [info(s, False) for s in out]

    def topics(self) -> list[str]:
        """Every topic path of the list in its order, a folder with no source yet too."""
        listed = self._read_list()
        return list(dict.fromkeys(_topic_paths_of(listed, self._list_folders)))

    def add_source(
        self,
        url: str,
        *,
        category: str = "",
        title: str = "",
        selector: str = "",
        discover: bool = True,
    ) -> AddedSource:
        """Add a feed, or a page: a page's own feed is found and added in its place.

        With a `selector` the page itself becomes the source (its matching links are the
        articles). With `discover=False` the URL is added as given, without the network.
        """
        from aggregator import probe

        normalized = opml.normalize_source_url(url)
        listed = self._list_to_change()
        _refuse_duplicate(listed, normalized)
        category = _as_listed(category, listed, self._list_folders)
        if selector:
            _refuse_bad_selector(selector, "not added")
            looked, named = (
                probe.check_page(self.settings.fetch, normalized, selector)
                if discover
                else ("", "")
            )
            source = Source(
                normalized,
                _clean_name(title) or _clean_name(named),
                category,
                type="html",
                selector=selector,
            )
            self._append(source)
            return AddedSource(source, warning=looked)
        found = (
            probe.discover(self.settings.fetch, normalized)
            if discover
            else probe.Discovery(normalized, "", "rss")
        )
        feed_url = opml.normalize_source_url(found.url)
        _refuse_duplicate(listed, feed_url)
        source = Source(
            url=feed_url,
            title=_clean_name(title) or found.title,
            category=category,
            type=found.kind,
            html_url=normalized if feed_url != normalized else "",
        )
        self._append(source)
        return AddedSource(source, found.offered, found.warning)

    def _append(self, source: Source) -> None:
        """Add to the list as it is now: another process may have changed it meanwhile."""
        with self._changing_list() as listed:
            _refuse_duplicate(listed, source.url)
            self._save_list([*listed, source])

    def update_source(
        self,
        url: str,
        *,
        title: str | None = None,
        category: str | None = None,
        full_text: bool | None = None,
        selector: str | None = None,
    ) -> Source:
        """Change a source's title, topic, full-text switch or (a page followed without a
        feed) the selector of its links; the rest of its outline stays."""
        with self._changing_list() as listed:
            target = _find(listed, url)
            if selector is not None:
                _check_selector(target, selector)
            changed = replace(
                target,
                title=target.title if title is None else _clean_name(title),
                category=target.category
                if category is None
                else _as_listed(category, listed, self._list_folders),
                full_text=target.full_text if full_text is None else full_text,
                selector=target.selector if selector is None else selector.strip(),
            )
            self._save_list([changed if s.url == target.url else s for s in listed])
        return changed

    def remove_source(self, url: str) -> RemovedSource:
        """Remove a source from the list and its entries from the library, but for starred
        ones: they stay (under the source, now unlisted) until it is removed once more.

        A source the list no longer has but the library does (taken out of the file by
        hand, or kept for its stars) is removed from the library, starred entries and all.
        """
        with self._changing_list() as listed:
            try:
                target = _find(listed, url)
            except SourceNotFoundError:
                unlisted = self._unlisted(url)
                if unlisted is None:
                    raise
                removed, _ = self.store.delete_source(unlisted.url)
                return RemovedSource(unlisted, removed, listed=False)
            # Its entries are deleted only with the list written: a library too busy
            # leaves the list as it was, a list that cannot be written the entries.
            remaining = [s for s in listed if s.url != target.url]
            removed, kept = self.store.delete_source(
                target.url, keep_starred=True, then=lambda: self._write_list(remaining)
            )
        return RemovedSource(target, removed, kept_starred=kept)

    def _unlisted(self, url: str) -> Source | None:
        """A source the library holds and the list no longer has, by its address as typed
        or as the list would write it, named as the library names it."""
        wanted = (_normalized(url), url.strip())
        found = [s for s in self.store.unlisted_sources() if s.url in wanted]
        if not found:
            return None
        source = min(found, key=lambda s: wanted.index(s.url))
        return replace(source, title=self.store.source_titles([source.url])[source.url])

    def import_opml(self, path: str | os.PathLike[str]) -> ImportReport:
        """Merge another OPML list into the user's: new sources are appended, none replaced."""
        document = opml.read_opml_file(path)
        if not document.sources:
            why = ""
            if document.skipped:  # one line, with the first reason: why is the list empty?
                first = document.skipped[0]
                more = len(document.skipped) - 1
                why = f" ({first.url or first.title or 'an outline'}: {first.reason}" + (
                    f"; and {more} more outline{'s' * (more != 1)} skipped)" if more else ")"
                )
            raise OpmlError(f"{path}: no feeds to import{why}", path=str(path))
        with self._changing_list() as listed:
            known = {opml.source_key(s.url) for s in listed}
            added = self._filed_as_listed(
                listed, [s for s in document.sources if opml.source_key(s.url) not in known]
            )
            if added:
                self._save_list([*listed, *added])
        return ImportReport(
            added=added,
            already_present=len(document.sources) - len(added),
            skipped=document.skipped,
            merged=document.merged,
        )

    def _filed_as_listed(self, listed: list[Source], new: list[Source]) -> tuple[Source, ...]:
        """`new` filed in the list's folders where a topic differs from one only in case
        (`news` under `News`), as `add_source` files a typed topic: an import made a second
        folder beside the first. Topics the import brings are matched among themselves too.
        The names are gathered once and grown per topic filed (per source, a 2,000-feed
        import took 12.7 s)."""
        shown = _listed_names(_topic_paths_of(listed, self._list_folders))
        filed: list[Source] = []
        for source in new:
            topics = []
            for topic in (source.category, *source.tags):
                filed_as = _filed_under(topic, shown) if topic else ""
                for typed, name in _listed_names([filed_as] if filed_as else []).items():
                    shown.setdefault(typed, name)
                topics.append(filed_as)
            category, *tags = topics
            kept = tuple(t for t in dict.fromkeys(tags) if t and t != category)
            filed.append(replace(source, category=category, tags=kept))
        return tuple(filed)

    def export_opml(self, path: str | os.PathLike[str] | None = None) -> bytes:
        """The list as strict OPML 2.0, written atomically to `path` when one is given.

        A list that cannot be read is exported as last read (addresses, titles and topics: a
        way to recover it), though never onto itself; the list exported onto itself is left
        as it is (`is_source_list` tells)."""
        onto_itself = path is not None and self.is_source_list(path)
        listed = self._read_list(changing=onto_itself)
        if not onto_itself:  # named as the feeds name themselves where the list does not
            states = self.store.source_states()
            listed = [
                s if s.title or s.url not in states else replace(s, title=states[s.url].feed_title)
                for s in listed
            ]
        if path is not None and not onto_itself:
            try:
                opml.save_opml(path, listed, title=self._list_title, kept=self._list_refused)
            except OSError as exc:
                raise OpmlError(
                    f"cannot write {path}: {exc.strerror or exc}", path=str(path)
                ) from None
        return opml.write_opml(listed, title=self._list_title, kept=self._list_refused)

    def is_source_list(self, path: str | os.PathLike[str]) -> bool:
        """Whether `path` is the user's list file (through any link)."""
        try:
            return os.path.samefile(path, self.settings.opml_path)
        except OSError:
            return False

    def select_sources(
        self, urls: Iterable[str] = (), category: str | None = None, *, unfiled: bool = False
    ) -> list[Source]:
        """Sources named by URL (each must exist) and/or under a category (and its subfolders),
        or (`unfiled`) in no folder, as `View.unfiled` lists their entries."""
        listed = self._read_list(changing=True)
        chosen = [_find(listed, url) for url in urls] or listed
        if _names_unfiled(category, listed):
            category, unfiled = None, True
        if unfiled:
            chosen = [s for s in chosen if not s.category]
        if category:
            wanted = _as_listed(category, listed, self._list_folders).lower()
            inside = [s for s in listed if any(_within(p, wanted) for p in (s.category, *s.tags))]
            # A typo would otherwise fetch nothing and say all is well; a folder of the list
            # with no source in it yet is a topic, with nothing to fetch.
            if not inside and not any(_within(f, wanted) for f in self._list_folders):
                raise _unknown_topic(category, listed, self._list_folders)
            urls_inside = {s.url for s in inside}
            outside = [s for s in chosen if s.url not in urls_inside]
            if urls and outside:  # a source named and a topic it is not in: say so
                raise UserError(f"{outside[0].url} is not in the topic '{category}'")
            chosen = [s for s in chosen if s.url in urls_inside]
        return chosen

    def names_unfiled(self, category: str | None) -> bool:
        """Whether `category` names the sources in no folder (see `_names_unfiled`)."""
        return _names_unfiled(category, self._read_list())

    def source_tags(self) -> dict[str, tuple[str, ...]]:
        """Each source filed in other topics by tags, with those topics' paths."""
        return {
            s.url: tags
            for s in self._read_list()
            if (tags := tuple(t for t in s.tags if t and t != s.category))
        }

    def tagged_sources(self, category: str, *, by_name: bool = False) -> tuple[str, ...]:
        """Sources filed under a topic by a tag (another folder of the list) and not by
        their folder: a topic's entries include theirs. A topic is its path (`News` holds
        `News/World`) or, `by_name`, also the name of any of its levels, as `category:`
        reads it in a search."""
        wanted = _clean_category(category).lower()
        found = []
        for source in self._read_list():
            if not source.tags or _within(source.category, wanted):
                continue
            if by_name:
                hit = any(wanted in _topic_names(tag) for tag in source.tags)
            else:
                hit = any(_within(tag, wanted) for tag in source.tags)
            if hit:
                found.append(source.url)
        return tuple(found)

    def check_search_filters(
        self, category: str | None, source: str | None
    ) -> tuple[str | None, str | None]:
        """A topic or source to narrow a search by must be in the list: named by mistake, it
        would find nothing, as if the library had no match. A topic is named as `category:`
        reads it: by its path, or by the name of any of its levels. Returns both as a search
        names them: the topic in lower case, as `category:` reads it (`Film/TV` is the folder
        `film∕tv` when there is no `Film` holding `TV`), the source's address as listed
        (`HTTP://Host/feed` is `http://host/feed`)."""
        listed = self._read_list()
        found = self._searched_source(listed, source) if source else None
        if not category:
            return None, found
        if _names_unfiled(category, listed):
            return UNFILED, found
        paths = _topic_paths_of(listed, self._list_folders)
        named = _as_shown(name for path in paths for name in _topic_names(path))
        wanted = named.get(_clean_category(category).lower())
        if wanted is None:
            raise _unknown_topic(category, listed, self._list_folders)
        return wanted, found

    def _searched_source(self, listed: list[Source], url: str) -> str:
        """A listed source's address, else one removed from the list whose entries the
        library keeps (starred ones stay when a source is removed): they are searchable."""
        try:
            return _find(listed, url).url
        except SourceNotFoundError:
            unlisted = self._unlisted(url)
            if unlisted is None:
                raise
            return unlisted.url


def _topic_paths_of(listed: Iterable[Source], folders: Iterable[str]) -> list[str]:
    """The topic paths sources are filed under (folders and tags), then the list's folders."""
    return [p for s in listed for p in (s.category, *s.tags) if p] + list(folders)


def _check_selector(source: Source, selector: str) -> None:
    """A new selector for a page source; refused (nothing changed) when it cannot serve."""
    if not source.is_page:
        raise UserError(f"{source.url} is a feed: a selector is for a page without one")
    if not selector.strip():
        raise UserError("a page without a feed needs the selector of its article links")
    _refuse_bad_selector(selector.strip(), "nothing changed")


def _refuse_bad_selector(selector: str, outcome: str) -> None:
    from aggregator import pages

    problem = pages.selector_problem(selector)
    if problem:
        raise UserError(f"bad selector {selector!r}: {problem}; {outcome}")


def _unknown_topic(category: str, listed: list[Source], folders: Iterable[str]) -> UserError:
    paths = [*(s.category for s in listed), *folders]
    topics = sorted({path.split("/")[0] for path in paths if path})
    known = f"topics: {', '.join(topics)}" if topics else "it has no topics yet"
    return UserError(f"no topic named '{category}' in your list ({known})")


def _refuse_duplicate(listed: list[Source], url: str) -> None:
    key = opml.source_key(url)
    for source in listed:
        if opml.source_key(source.url) == key:
            shown = url if source.url == url else f"{url} (as {source.url})"
            raise InvalidSourceError(f"{shown} is already a source", url=url)


def _normalized(url: str) -> str:
    """The address as the list writes it; as typed when it is no address at all."""
    try:
        return opml.normalize_source_url(url)
    except InvalidSourceError:
        return url.strip()


def _find(listed: list[Source], url: str) -> Source:
    normalized = _normalized(url)
    for source in listed:
        if source.url in (normalized, url.strip()):
            return source
    key = opml.source_key(normalized)
    for source in listed:  # `…/./feed#top` names `…/feed`
        if opml.source_key(source.url) == key:
            return source
    raise SourceNotFoundError(url.strip())


def _within(path: str, wanted: str) -> bool:
    """Whether a topic path is the topic `wanted` (lower case) or one of its subtopics."""
    path = path.lower()
    return bool(path) and (path == wanted or path.startswith(wanted + "/"))


def _topic_names(path: str) -> set[str]:
    """What names a topic path in a search, in lower case (`topic_names`)."""
    return {name.lower() for name in topic_names(path)}


def _names_unfiled(category: str | None, listed: list[Source]) -> bool:
    """`Unfiled` (in any case) names the sources in no folder, as the UI names them, unless
    a folder or tag of the list, at any level (`News/Unfiled`), has that name: then it is
    that topic, as `category:` reads it."""
    if not category or category.strip().lower() != UNFILED.lower():
        return False
    paths = (path for s in listed for path in (s.category, *s.tags) if path)
    return not any(UNFILED.lower() in _topic_names(path) for path in paths)


def _as_listed(category: str, listed: list[Source], folders: Iterable[str]) -> str:
    """A topic path as the list writes it: in its case, and with a folder whose name has a
    `/` (`Film/TV`, kept as `Film∕TV`) named as shown, unless folders `Film` > `TV` exist.
    The folders it starts with are matched in any case (empty ones too): `medicine/new`
    files under `Medicine`, not beside it."""
    return _filed_under(category, _listed_names(_topic_paths_of(listed, folders)))


def _listed_names(paths: Iterable[str]) -> dict[str, str]:
    """Topic paths and every start of each (`Medicine/Oncology`: `Medicine` too) by how
    they may be typed (`_as_shown`), for `_filed_under`."""
    return _as_shown(
        "/".join(levels[:i])
        for path in paths
        for levels in [path.split("/")]
        for i in range(len(levels), 0, -1)
    )


def _filed_under(category: str, shown: dict[str, str]) -> str:
    """`category` as typed, its longest start that `shown` knows written as the list has it."""
    typed = _clean_category(category)
    levels = typed.split("/")
    for i in range(len(levels), 0, -1):
        known = shown.get("/".join(levels[:i]).lower())
        if known is not None:
            return "/".join((known, *levels[i:]))
    return typed


def _as_shown(names: Iterable[str]) -> dict[str, str]:
    """Each topic name or path by how it may be typed, in any case: as it is, and with a
    folder's own `/` (kept as `∕`) typed as the `/` it is shown as (`UI ∕ UX` as `UI/UX`,
    as a typed topic is cleaned); the name as it is wins."""
    named: dict[str, str] = {}
    for name in names:
        named.setdefault(name.lower(), name)
    for name in list(named.values()):
        typed = _clean_category(name.replace(opml.FOLDER_SLASH, "/")).lower()
        if typed:
            named.setdefault(typed, name)
    return named


def _clean_category(category: str) -> str:
    return "/".join(part.strip() for part in _clean_name(category).split("/") if part.strip())


def _clean_name(text: str) -> str:
    """A title or folder name as typed, fit for the list: one line, no control characters, and
    no code points XML cannot hold (an argument that was not UTF-8 arrives with surrogates)."""
    return one_line(_NOT_XML.sub("\ufffd", text))


_NOT_XML = re.compile(r"[\ud800-\udfff\ufffe\uffff]")
