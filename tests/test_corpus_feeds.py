"""Real-world and adversarial feeds from the shared corpus, through the parser and the whole
fetch pipeline (loopback HTTP server -> fetcher -> parse pool -> store -> reader).

Two collections are used:

* feedparser's own test suite (`corpus/feedparser-tests/tests`): ~2,100 small documents that
  each exercise one corner of RSS, Atom, RDF, CDF, encodings, entities and hostile markup.
* NetNewsWire's RSParser test resources: real feeds from real sites (some whose file extension
  lies about their format), JSON Feeds, and HTML pages that declare their feeds.

No HTTP is mocked. Entries that look like teasers make the pipeline fetch their article pages
from the internet; a second loopback server is set as the HTTP(S) proxy for everything but
127.0.0.1 (`no_internet`), so those requests are answered locally (404 / 501) and the tests stay
hermetic and fast whether or not the machine is online.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from lxml import etree
from lxml import html as lxml_html

from aggregator.config import load_settings
from aggregator.errors import FeedError
from aggregator.library import open_library
from aggregator.models import Source, UpdateResult
from aggregator.pages import discover_feeds
from aggregator.parse import parse_feed
from aggregator.sources import save_opml
from tests.httpd import LoopbackServer, Route

FEEDPARSER_TESTS = Path("feedparser-tests/tests")
NNW_RESOURCES = Path("netnewswire-rsparser/Modules/RSParser/Tests/RSParserTests/Resources")

XML_SUFFIXES = (".rss", ".atom", ".rdf", ".xml")
CONTENT_TYPE_BY_SUFFIX = {
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".xml": "application/xml",
    ".json": "application/feed+json",
}
NOT_JSON_FEEDS = {"allthis-partial.json", "ScriptingNews.json"}
"""A truncated JSON Feed, and Dave Winer's RSS-in-JSON (no JSON Feed version)."""
DISCOVERY_PAGES = (
    "DaringFireball.html",
    "inessential.html",
    "sixcolors.html",
    "coco.html",
    "furbo.html",
    "YouTubeTheVolvoRocks.html",
)
FEED_LINK_TYPES = {"application/rss+xml", "application/atom+xml", "application/feed+json"}

# What must never reach a terminal from a stored field: C0 controls but tab and newline
# (ESC included), DEL, and the C1 range (8-bit CSI, OSC, ...).
FORBIDDEN_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")

# feedparser's test harness reads `Header: Name: value` lines from a file's first comment.
_FIRST_COMMENT = re.compile(rb"<!--(.*?)-->", re.S)
_HEADER_LINE = re.compile(rb"^[ \t]*Header:[ \t]*([A-Za-z0-9-]+):[ \t]*(.*?)[ \t\r]*$", re.M)


# -- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def no_internet(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """Send every request not for 127.0.0.1 to a loopback 'proxy' that has no routes.

    The fetcher follows teasers to their article pages (example.org, daringfireball.net ...):
    with this, those requests get a local 404 (http) or 501 to CONNECT (https) instead of
    leaving the machine. The fetcher's HTTP client honours the standard proxy variables.
    """
    outside = LoopbackServer()
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, outside.base)
        monkeypatch.setenv(name.lower(), outside.base)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    yield outside
    outside.close()


def declared_headers(body: bytes) -> dict[str, str]:
    """The `Header: Name: value` lines of a feedparser test file's first comment."""
    match = _FIRST_COMMENT.search(body[:4096])
    if match is None:
        return {}
    return {
        name.decode("ascii"): value.decode("latin-1")
        for name, value in _HEADER_LINE.findall(match.group(1))
    }


def build_library(tmp_path: Path, sources: list[Source]):
    opml_path = tmp_path / "sources.opml"
    save_opml(opml_path, sources, title="corpus")
    settings = load_settings(data_dir=tmp_path / "home", opml=str(opml_path))
    return open_library(settings)


def stored_entries(lib) -> list[tuple[str, str, str, str, str, str]]:
    """(id, source_url, title, author, summary, content_text) of every stored entry."""
    with lib.store._read() as conn:
        return conn.execute(
            "select id, source_url, title, author, summary, content_text from entry order by id"
        ).fetchall()


def check_result_shape(result: UpdateResult) -> None:
    """What every result of a run must look like, whatever the document was."""
    assert result.status in ("ok", "not_modified", "failed"), result
    if result.error is not None:
        assert not result.error.startswith("unexpected "), (result.url, result.error)
        assert "\n" not in result.error and "\r" not in result.error, (result.url, result.error)
        assert result.error.strip(), result
    if result.status == "failed":
        assert result.error, result
    if result.warning is not None:
        assert "\n" not in result.warning, (result.url, result.warning)


def lxml_item_count(path: Path) -> int:
    """Items counted without the program: strict XML, RSS/RDF `item` and Atom `entry`."""
    tree = etree.parse(str(path), etree.XMLParser(recover=False, resolve_entities=False))
    return sum(
        1
        for element in tree.iter()
        if isinstance(element.tag, str) and etree.QName(element).localname in ("item", "entry")
    )


def nnw_files(corpus: Path, suffixes: tuple[str, ...]) -> list[Path]:
    root = corpus / NNW_RESOURCES
    if not root.is_dir():
        pytest.skip(f"{root} not in the corpus")
    return sorted(p for p in root.iterdir() if p.suffix in suffixes)


def one_line_message(exc: BaseException) -> str:
    message = str(exc)
    assert message and message == message.strip(), repr(message)
    assert "\n" not in message and "\r" not in message, repr(message)
    return message


# -- 1. feedparser's test suite through the whole pipeline ------------------------------------


def test_feedparser_suite_through_the_fetch_pipeline(
    corpus: Path, server: LoopbackServer, no_internet: LoopbackServer, tmp_path: Path
):
    """Every document of feedparser's own test suite, served over HTTP and fetched in one run.

    The suite is the widest catalogue of feed corner cases there is (encodings declared by
    HTTP headers and by the document, entities, CDF, hostile markup, broken XML). One run
    over all of it checks that no document reaches the catch-all ("unexpected ..."), that
    errors stay one line, that what the results say was stored is what was stored, that the
    well-formed documents are read, and that nothing stored can carry terminal controls.
    """
    root = corpus / FEEDPARSER_TESTS
    if not root.is_dir():
        pytest.skip(f"{root} not in the corpus")
    started = time.monotonic()
    sources: list[Source] = []
    relpath: dict[str, str] = {}
    has_items: dict[str, bool] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if path.suffix not in (".xml", ".json"):
            continue
        body = path.read_bytes()
        # An item that shows whole (a document that stops inside its only item, before
        # its end, stores nothing: that half-read item is left for a whole copy).
        has_items[rel] = re.search(rb"</(item|entry)>", body) is not None
        headers = declared_headers(body) if "http" in rel else {}
        content_type = "application/json" if path.suffix == ".json" else "application/xml"
        for name in [n for n in headers if n.lower() == "content-type"]:
            content_type = headers.pop(name)
        url = server.route("/" + rel, Route(body=body, content_type=content_type, headers=headers))
        sources.append(Source(url=url, title=rel))
        relpath[url] = rel
    assert len(sources) > 2000, "the feedparser suite looks incomplete"

    with build_library(tmp_path, sources) as lib:
        report = lib.fetch(concurrency=16, per_host=16)
        fetched_s = time.monotonic() - started

        # Every source has exactly one result, and each is well-formed.
        assert sorted(r.url for r in report.results) == sorted(relpath), "a source has no result"
        for result in report.results:
            check_result_shape(result)

        by_dir: dict[str, Counter[str]] = defaultdict(Counter)
        by_top: dict[str, Counter[str]] = defaultdict(Counter)
        failures: dict[str, str] = {}
        for result in report.results:
            rel = relpath[result.url]
            parts = rel.split("/")
            by_dir["/".join(parts[:2]) if len(parts) > 2 else parts[0]][result.status] += 1
            by_top[parts[0]][result.status] += 1
            if result.status == "failed":
                failures[rel] = result.error or ""
        print(f"\nfeedparser suite: {len(sources)} documents fetched in {fetched_s:.1f} s")
        print(f"  article requests kept off the internet: {len(no_internet.requests)}")
        for name in sorted(by_dir):
            print(f"  {name:28} {dict(sorted(by_dir[name].items()))}")
        for rel, error in sorted(failures.items()):
            print(f"  failed {rel}: {error}")

        # Nothing was fetched twice or answered 304: this is a first run.
        assert not any(r.status == "not_modified" for r in report.results)
        # On loopback, a failure can only mean "this is not a feed", never a fetch problem.
        for rel, error in failures.items():
            assert error.startswith("not a feed"), (rel, error)

        def ok_share(counts: Counter[str]) -> float:
            return counts["ok"] / sum(counts.values())

        assert ok_share(by_top["wellformed"]) >= 0.95, dict(by_top["wellformed"])
        assert ok_share(by_top["encoding"]) >= 0.95, dict(by_top["encoding"])
        assert ok_share(by_top["entities"]) >= 0.95, dict(by_top["entities"])
        assert by_top["json"] == Counter(ok=1)
        # Ill-formed documents are read as far as they go (one that shows an item stores
        # something), or refused in one clear line (checked above: "not a feed ...").
        assert by_top["illformed"]["ok"] >= 1
        for result in report.results:
            rel = relpath[result.url]
            if rel.startswith("illformed/") and has_items[rel]:
                assert result.status == "ok" and result.new >= 1, (rel, result)

        # What the results say was stored is what the store holds.
        rows = stored_entries(lib)
        total_new = sum(r.new for r in report.results)
        assert lib.store.entry_totals()[0] == total_new == len(rows)
        assert total_new > 1000
        stored_per_source = Counter(row[1] for row in rows)
        for result in report.results:
            assert stored_per_source.get(result.url, 0) == result.new, relpath[result.url]

        # No stored field may carry a terminal control: checked on every row ...
        for eid, source_url, *fields in rows:
            for name, value in zip(("title", "author", "summary", "text"), fields, strict=True):
                bad = FORBIDDEN_CONTROLS.search(value or "")
                assert bad is None, (relpath[source_url], eid, name, repr(value))
        # ... and through the reader, which also makes the Markdown, on a sample. The sample
        # takes every entry of the directories about encodings and hostile markup first.
        is_risky = [relpath[r[1]].startswith(("encoding/", "illformed/")) for r in rows]
        risky = [r[0] for r, flag in zip(rows, is_risky, strict=True) if flag][:100]
        rest = [r[0] for r, flag in zip(rows, is_risky, strict=True) if not flag]
        sample = risky + rest[:: max(1, len(rest) // (200 - len(risky)))]
        assert len(sample) >= 190
        for eid in sample:
            entry = lib.entry(eid)
            for name in ("title", "author", "summary", "text", "markdown"):
                value = getattr(entry, name) or ""
                bad = FORBIDDEN_CONTROLS.search(value)
                assert bad is None, (relpath[entry.source_url], eid, name, repr(value))
        print(f"  sampled {len(sample)} entries; whole test {time.monotonic() - started:.1f} s")


# -- 2. NetNewsWire's real feeds, parsed directly -----------------------------------------------


def test_nnw_xml_feeds_parse_every_item(corpus: Path):
    """Real RSS, Atom and RDF feeds: the parser returns every item the file holds.

    The count is made independently with strict lxml. The extensions are not trusted:
    DaringFireball.rss is Atom and allthis.atom is RSS, so the parser must sniff.
    """
    files = nnw_files(corpus, XML_SUFFIXES)
    assert len(files) >= 30
    formats = {}
    for path in files:
        expected = lxml_item_count(path)
        headers = {"Content-Type": CONTENT_TYPE_BY_SUFFIX[path.suffix]}
        parsed = parse_feed(path.read_bytes(), f"https://example.com/{path.name}", headers)
        assert len(parsed.entries) == expected, (path.name, len(parsed.entries), expected)
        formats[path.name] = parsed.format
    assert formats["DaringFireball.rss"].startswith("atom")
    assert formats["allthis.atom"].startswith("rss")
    assert formats["bio.rdf"] == "rss10"


def test_nnw_entries_with_content_keep_text(corpus: Path):
    """Every real entry whose feed gives it words keeps words to index and to read: 25 of
    Macworld's 30 kept none (HTML5 sections after the stored `<base href>`, QA pass)."""
    from aggregator.jobs import parse_job

    emptied, kept = [], 0
    for path in nnw_files(corpus, XML_SUFFIXES):
        headers = {"Content-Type": CONTENT_TYPE_BY_SUFFIX[path.suffix]}
        url = f"https://example.com/{path.name}"
        for entry in parse_job(path.read_bytes(), url, headers, 0, False).entries:
            words = lxml_html.fromstring(f"<div>{entry.html}</div>").text_content()
            if re.search(r"\w{3}", words):
                kept += 1
                if not entry.text.strip():
                    emptied.append((path.name, entry.guid))
    assert kept > 500 and emptied == []


def test_buffered_expat_reads_the_same_feeds(corpus: Path, monkeypatch: pytest.MonkeyPatch):
    """feedparser is given an expat that joins each text node's pieces (an eighth of its
    parse time): every real feed must come out exactly as with the standard driver."""
    import xml.sax

    import feedparser.api

    made = xml.sax.make_parser(feedparser.api.PREFERRED_XML_PARSERS)
    made.reset()
    assert made._parser.buffer_text  # type: ignore[attr-defined]
    files = nnw_files(corpus, XML_SUFFIXES)
    documents = [
        (path.read_bytes(), {"Content-Type": CONTENT_TYPE_BY_SUFFIX[path.suffix]}) for path in files
    ]
    buffered = [parse_feed(body, "https://example.com/f", h) for body, h in documents]
    monkeypatch.setattr(feedparser.api, "PREFERRED_XML_PARSERS", [])  # the stdlib's expat
    plain = [parse_feed(body, "https://example.com/f", h) for body, h in documents]
    assert buffered == plain
    assert sum(len(parsed.entries) for parsed in plain) > 500


def test_nnw_json_feeds(corpus: Path):
    """JSON Feeds parse to one entry per item; JSON that is not a JSON Feed is refused.

    allthis-partial.json is cut off mid-document and ScriptingNews.json is RSS written as
    JSON: both must be a `FeedError` with a one-line message, never an exception escaping.
    """
    files = nnw_files(corpus, (".json",))
    seen_feeds = 0
    for path in files:
        body = path.read_bytes()
        url = f"https://example.com/{path.name}"
        headers = {"Content-Type": "application/feed+json"}
        if path.name in NOT_JSON_FEEDS:
            with pytest.raises(FeedError) as caught:
                parse_feed(body, url, headers)
            assert one_line_message(caught.value).startswith("not a feed"), caught.value
            continue
        document = json.loads(body)
        assert "jsonfeed.org" in document["version"], path.name
        parsed = parse_feed(body, url, headers)
        assert len(parsed.entries) == len(document["items"]), path.name
        assert parsed.format.startswith("json"), (path.name, parsed.format)
        seen_feeds += 1
    assert seen_feeds >= 8
    assert {p.name for p in files} >= NOT_JSON_FEEDS


def test_nnw_feed_authors_and_json_titles_as_readers_show_them(corpus: Path):
    """Found by review: an Atom feed's own <author> was not its entries' (RFC 4287 says it
    is: `author:cox` found nothing), and JSON Feed titles kept `&amp;`, `&#8216;`."""
    atom = parse_feed((corpus / NNW_RESOURCES / "russcox.atom").read_bytes(), "https://x/a")
    assert atom.entries and all(e.author.startswith("Russ Cox") for e in atom.entries)
    for name in ("rose.json", "pxlnv.json"):
        feed = parse_feed((corpus / NNW_RESOURCES / name).read_bytes(), f"https://x/{name}")
        titles = [e.title for e in feed.entries]
        assert not [t for t in titles if re.search(r"&(#\d+|amp|quot|#039);", t)], name
    assert "Workflow: Add Task & Sub Tasks To OmniFocus" in [
        e.title
        for e in parse_feed(
            (corpus / NNW_RESOURCES / "rose.json").read_bytes(), "https://x"
        ).entries
    ]


@pytest.mark.parametrize(
    "name",
    [
        "DaringFireball.atom",
        "DaringFireball.rss",
        "DaringFireball.json",
        "allthis.atom",
        "bio.rdf",
        "atp.rss",
        "russcox.atom",
        "inessential.json",
        "rose.json",
        "livemint.xml",
    ],
)
def test_nnw_entry_basics(corpus: Path, name: str):
    """Per-entry fields on a few real feeds: titles where the source has them, links absolute
    http(s), dates timezone-aware and in UTC, guids present and one line."""
    path = corpus / NNW_RESOURCES / name
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    body = path.read_bytes()
    headers = {"Content-Type": CONTENT_TYPE_BY_SUFFIX[path.suffix]}
    parsed = parse_feed(body, f"https://example.com/{name}", headers)
    assert parsed.entries

    if path.suffix == ".json":
        items = json.loads(body)["items"]
        source_titles = [bool(str(item.get("title") or "").strip()) for item in items]
        source_dates = [bool(item.get("date_published")) for item in items]
    else:
        tree = etree.parse(str(path))
        items = [
            e
            for e in tree.iter()
            if isinstance(e.tag, str) and etree.QName(e).localname in ("item", "entry")
        ]

        def child_text(item: etree._Element, names: tuple[str, ...]) -> bool:
            return any(
                isinstance(c.tag, str)
                and etree.QName(c).localname in names
                and "".join(c.itertext()).strip()
                for c in item
            )

        source_titles = [child_text(i, ("title",)) for i in items]
        source_dates = [
            child_text(i, ("pubDate", "date", "published", "updated", "modified", "issued"))
            for i in items
        ]
    assert len(items) == len(parsed.entries)

    for entry, has_title, has_date in zip(parsed.entries, source_titles, source_dates, strict=True):
        if has_title:
            assert entry.title.strip(), (name, entry.guid)
        assert "\n" not in entry.title and "\n" not in entry.guid
        assert entry.guid.strip(), name
        if entry.url:
            parts = urlsplit(entry.url)
            assert parts.scheme in ("http", "https") and parts.netloc, (name, entry.url)
        if has_date:
            assert entry.published is not None, (name, entry.guid)
        for when in (entry.published, entry.updated):
            if when is not None:
                assert when.tzinfo is not None, (name, entry.guid, when)
                assert when.utcoffset() == timedelta(0), (name, entry.guid, when)
    assert sum(bool(e.url) for e in parsed.entries) >= len(parsed.entries) * 0.9, name


def test_wellformed_feed_without_content_type_has_no_illformed_warning(corpus: Path):
    """`ParsedFeed.warning` is documented as "set when the document was ill-formed".

    A feed that strict lxml parses, given to `parse_feed` without headers (the way a test,
    an import or a server that sends no Content-Type gives it), must not be called ill-formed.
    """
    path = corpus / NNW_RESOURCES / "russcox.atom"
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    lxml_item_count(path)  # strictly well-formed XML
    with_type = parse_feed(
        path.read_bytes(), "https://example.com/f", {"Content-Type": "application/atom+xml"}
    )
    assert with_type.warning == ""
    without = parse_feed(path.read_bytes(), "https://example.com/f")
    assert len(without.entries) == len(with_type.entries)
    assert without.warning == "", without.warning


def test_entry_without_updated_date_does_not_warn(corpus: Path):
    """Nearly every RSS item has a pubDate and no updated date. Parsing one must not lean on
    feedparser's deprecated `updated_parsed` -> `published_parsed` fallback: the warning is an
    error under this project's pytest settings (and `-W error`), and the fallback will go.
    An item without an updated date has none (it is not the published date in disguise)."""
    path = corpus / NNW_RESOURCES / "atp.rss"
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        parsed = parse_feed(path.read_bytes(), "https://example.com/atp.rss")
    assert len(parsed.entries) == lxml_item_count(path)
    assert all(e.published is not None and e.updated is None for e in parsed.entries)


@pytest.mark.filterwarnings("error::DeprecationWarning")
def test_small_run_of_a_real_rss_feed_is_stored(
    corpus: Path, server: LoopbackServer, no_internet: LoopbackServer, tmp_path: Path
):
    """One real RSS feed fetched alone: a run of fewer than 8 sources parses in a thread of
    this process, not in the process pool, so a warning raised while parsing (an error here)
    would reach the catch-all as "unexpected DeprecationWarning". It must be stored whole."""
    path = corpus / NNW_RESOURCES / "atp.rss"
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    url = server.route(
        "/atp.rss", Route(body=path.read_bytes(), content_type="application/rss+xml")
    )
    with build_library(tmp_path, [Source(url=url, title="ATP")]) as lib:
        (result,) = lib.fetch(concurrency=16, per_host=16).results
        check_result_shape(result)
        assert result.status == "ok", result.error
        assert result.new == lxml_item_count(path)


# -- 3. NetNewsWire's feeds through the whole pipeline ----------------------------------------


def test_nnw_feeds_through_the_fetch_pipeline(
    corpus: Path, server: LoopbackServer, no_internet: LoopbackServer, tmp_path: Path
):
    """The real feeds served over HTTP and fetched in one run: each source stores one entry
    per distinct item id the parser yields (a feed that repeats a guid keeps one entry), and
    the two JSON documents that are not JSON Feeds fail in one clear line."""
    files = nnw_files(corpus, (*XML_SUFFIXES, ".json"))
    sources, expected, names = [], {}, {}
    for path in files:
        body = path.read_bytes()
        content_type = CONTENT_TYPE_BY_SUFFIX[path.suffix]
        url = server.route("/nnw/" + path.name, Route(body=body, content_type=content_type))
        sources.append(Source(url=url, title=path.name))
        names[url] = path.name
        if path.name in NOT_JSON_FEEDS:
            expected[url] = None
        else:
            drafts = parse_feed(body, url, {"Content-Type": content_type}).entries
            expected[url] = len({d.guid for d in drafts})

    with build_library(tmp_path, sources) as lib:
        report = lib.fetch(concurrency=16, per_host=16)
        assert sorted(r.url for r in report.results) == sorted(expected)
        stored = Counter(row[1] for row in stored_entries(lib))
        for result in report.results:
            check_result_shape(result)
            name = names[result.url]
            if expected[result.url] is None:
                assert result.status == "failed", (name, result)
                assert result.error.startswith("not a feed"), (name, result.error)
                assert stored.get(result.url, 0) == 0
                continue
            assert result.status == "ok", (name, result.error)
            assert result.new == expected[result.url], (name, result.new, expected[result.url])
            assert stored[result.url] == expected[result.url], name
        assert lib.store.entry_totals()[0] == sum(r.new for r in report.results)
        assert sum(v for v in expected.values() if v) > 1000


# -- 4. feed discovery on real pages -----------------------------------------------------------


def declared_feeds(page: bytes, base: str) -> list[str]:
    """Feed URLs a page declares, found without the program: lxml over the <link> tags."""
    document = lxml_html.document_fromstring(page)
    base_tags = document.xpath("//base[@href]")
    if base_tags:
        base = urljoin(base, base_tags[0].get("href"))
    urls: list[str] = []
    for link in document.xpath("//link[@href]"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        if "alternate" in rels and kind in FEED_LINK_TYPES:
            url = urljoin(base, link.get("href").strip())
            if url not in urls:
                urls.append(url)
    return urls


@pytest.mark.parametrize("name", DISCOVERY_PAGES)
def test_discover_feeds_on_real_pages(corpus: Path, name: str):
    """Sites' home pages: discovery returns the feeds the page declares with
    <link rel="alternate" type="application/rss+xml|atom+xml|feed+json">, absolute, in page
    order, and ignores alternates that are not feeds (YouTube's app and mobile links)."""
    path = corpus / NNW_RESOURCES / name
    if not path.is_file():
        pytest.skip(f"{path} not in the corpus")
    page = path.read_bytes()
    base = "https://example.com/"
    expected = declared_feeds(page, base)
    assert expected, f"{name} declares no feed: the corpus changed"
    # A raw regex agrees with lxml on how many feed links there are.
    raw = [
        tag
        for tag in re.findall(rb"<link\b[^>]*>", page, re.I)
        if re.search(rb"""rel\s*=\s*["']?[^"'>]*alternate""", tag, re.I)
        and re.search(rb"application/(rss|atom)\+xml|application/feed\+json", tag, re.I)
    ]
    assert len(raw) == len(expected), (name, raw, expected)

    found = discover_feeds(page, base)
    assert [f.url for f in found] == expected, name
    for feed in found:
        assert feed.type in ("rss", "atom", "json")
        assert urlsplit(feed.url).scheme in ("http", "https")
