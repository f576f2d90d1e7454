"""Reading OPML: real broken files, listparser's and newsboat's edge cases, hostile input."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from aggregator.errors import OpmlError
from aggregator.sources import normalize_source_url, read_opml, read_opml_file, write_opml


def read(text: str):
    return read_opml(text.encode("utf-8"))


# -- the 118 real files ------------------------------------------------------------------------

_VALUE = r"((?:(?!<outline).)*?)"
_OUTLINE = re.compile(
    rf'<outline\s+text="{_VALUE}"\s+title="{_VALUE}"\s+description="{_VALUE}"\s+xmlUrl="{_VALUE}"',
    re.DOTALL,
)


def test_every_feed_of_the_118_awesome_files_imports_with_its_title(corpus: Path):
    files = sorted((corpus / "awesome-rss-feeds-opml").rglob("*.opml"))
    assert len(files) == 118
    checked = 0
    for path in files:
        raw = path.read_text(encoding="utf-8")
        # The expectation comes from a plain reading of the text, not from an XML parser:
        # each outline is text, title, description, xmlUrl in that order in these files.
        expected = [
            (html.unescape(m[3]).strip(), html.unescape(m[0]).strip())
            for m in _OUTLINE.findall(raw)
        ]
        assert len(expected) == raw.count("xmlUrl="), path
        document = read_opml_file(path)
        titles = {s.url: s.title for s in document.sources}
        for url, title in expected:
            assert titles.get(normalize_source_url(url)) == title, (path.name, url)
        assert not document.skipped, path
        checked += len(expected)
    assert checked > 1500


def test_titles_with_bare_ampersands_and_raw_quotes_stay_as_written(corpus: Path):
    russia = read_opml_file(corpus / "awesome-rss-feeds-opml/countries/with_category/Russia.opml")
    titles = {s.title for s in russia.sources}
    assert 'Газета "Коммерсантъ". Главное' in titles
    ampersands = [
        s.title
        for p in (corpus / "awesome-rss-feeds-opml").rglob("*.opml")
        for s in read_opml_file(p).sources
        if "&" in s.title
    ]
    assert ampersands and all("&amp;" not in t for t in ampersands)


def test_folders_of_the_with_category_files_become_categories(corpus: Path):
    travel = read_opml_file(corpus / "awesome-rss-feeds-opml/recommended/with_category/Travel.opml")
    assert travel.sources and {s.category for s in travel.sources} == {"Travel"}


def test_netnewswire_subscription_lists(corpus: Path):
    base = corpus / "netnewswire-rsparser/Modules/RSParser/Tests/RSParserTests/Resources"
    subs = read_opml_file(base / "Subs.opml")
    assert len(subs.sources) > 200
    assert any("/" in s.category for s in subs.sources) or any(s.category for s in subs.sources)
    no_titles = read_opml_file(base / "SubsNoTitleAttributes.opml")
    assert no_titles.sources and all(s.title for s in no_titles.sources[:20])


# -- listparser's own expectations -------------------------------------------------------------

_NOT_MODELLED = ("['meta']", '["meta"]', "['lists']", "['opportunities']", "['version']")


def _listparser_cases() -> list[Path]:
    from tests.conftest import CORPUS

    root = CORPUS / "opml-edge-cases/listparser/tests/files"
    if not root.is_dir():
        return []
    return sorted([*(root / "opml").rglob("*.xml"), *(root / "malformed").glob("*.xml")])


def _as_listparser_result(path: Path) -> dict:
    """Our reading, in the shape listparser's Eval lines expect."""
    try:
        document = read_opml_file(path)
    except OpmlError:
        return {"bozo": True, "feeds": []}
    feeds = []
    for source in document.sources:
        paths = [p for p in (source.category, *source.tags) if p]
        categories = [p.split("/") for p in paths]
        feeds.append(
            {
                "url": source.url,
                "title": source.title,
                "categories": categories,
                "tags": [c[0] for c in categories if len(c) == 1],
            }
        )
    return {"bozo": False, "feeds": feeds}


@pytest.mark.parametrize("path", _listparser_cases(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_listparser_case(path: Path):
    evals = re.findall(r"^\s*Eval:\s*(.+)$", path.read_text(encoding="utf-8"), flags=re.M)
    result = _as_listparser_result(path)
    checked = 0
    for expression in evals:
        if any(key in expression for key in _NOT_MODELLED):
            continue  # head metadata, sub-lists and "opportunities" are not part of our model
        if "bozo" in expression and ("== 1" in expression or "True" in expression):
            continue  # listparser flags bad head dates, which we do not read
        assert eval(expression, {"result": result}), expression  # the Eval lines are test data
        checked += 1
    assert result["bozo"] is False


def test_listparser_cases_are_present(corpus: Path):
    assert len(_listparser_cases()) > 60


def _feed_urls(document) -> list[str]:
    return [s.url for s in document.sources]


def test_listparser_project_list(corpus: Path):
    document = read_opml_file(corpus / "opml-edge-cases/listparser/feeds.opml")
    assert len(document.sources) == 2 and all(s.title for s in document.sources)


# -- newsboat's test lists ---------------------------------------------------------------------


def newsboat(corpus: Path, name: str):
    return read_opml_file(corpus / "opml-edge-cases/newsboat/test/data" / name)


def test_newsboat_nested_folders(corpus: Path):
    document = newsboat(corpus, "example.opml")
    by_title = {s.title: s for s in document.sources}
    assert len(document.sources) == 7
    assert by_title["John's musings"].category == "Blogs"
    assert by_title["Notes by Mike"].category == "Blogs/friends"
    assert by_title["Fred on everything"].category == "eloquent"
    assert by_title["example.com website"].category == ""


def test_newsboat_same_folder_twice_and_three_levels(corpus: Path):
    document = newsboat(corpus, "test-urls+.opml")
    by_title = {s.title: s.category for s in document.sources}
    assert by_title["CC Test"] == "tag1/tag2"
    assert by_title["One more feed"] == "tag1/tag3"
    assert len(document.sources) == 4


def test_newsboat_piped_command_url_is_refused(corpus: Path):
    document = newsboat(corpus, "piped.opml")
    assert _feed_urls(document) == ["https://example.com/feed.atom"]
    assert [s.url for s in document.skipped] == ["|~/fetch_tweets.py"]
    assert "http" in document.skipped[0].reason


def test_newsboat_category_attribute_and_filtercmd_are_kept(corpus: Path):
    tagged = newsboat(corpus, "category.opml").sources[0]
    assert tagged.category == "tag one"
    assert tagged.tags == ("tag_two", "tag/three")
    filtered = newsboat(corpus, "filtered.opml")
    firehose = next(s for s in filtered.sources if s.title == "Firehose")
    assert ("filtercmd", "~/.bin/keep_interesting.pl") in firehose.extra


def test_newsboat_not_opml_is_a_clear_error(corpus: Path):
    with pytest.raises(OpmlError, match=r"not an OPML file .*<not-opml>"):
        newsboat(corpus, "opml-element-missing.opml")


def test_newsboat_missing_body_has_no_feeds(corpus: Path):
    assert newsboat(corpus, "body-element-missing.opml").sources == ()


# -- hand-written hostile and broken input -----------------------------------------------------


def test_only_http_and_https_are_sources():
    document = read(
        """<opml version="2.0"><body>
        <outline text="local" xmlUrl="file:///etc/passwd"/>
        <outline text="js" xmlUrl="javascript:alert(1)"/>
        <outline text="exec" xmlUrl="exec:~/bin/x"/>
        <outline text="ftp" xmlUrl="ftp://example.com/feed"/>
        <outline text="relative" xmlUrl="/feed.xml"/>
        <outline text="ok" xmlUrl="HTTPS://Example.COM/Feed?x=1"/>
        <outline text="old" xmlUrl="feed://example.org/rss"/>
        </body></opml>"""
    )
    assert _feed_urls(document) == ["https://example.com/Feed?x=1", "http://example.org/rss"]
    assert [s.title for s in document.skipped] == ["local", "js", "exec", "ftp", "relative"]


def test_duplicate_urls_merge_and_keep_the_other_folder_as_a_tag():
    document = read(
        """<opml><body>
        <outline text="A"><outline text="first" xmlUrl="http://x.example/feed"/></outline>
        <outline text="B"><outline text="second" xmlUrl="http://X.example/feed"/></outline>
        </body></opml>"""
    )
    assert len(document.sources) == 1 and document.merged == 1
    source = document.sources[0]
    assert (source.title, source.category, source.tags) == ("first", "A", ("B",))


def test_control_characters_and_escape_sequences_are_removed_from_titles():
    document = read(
        '<opml><body><outline text="evil&#x9b;31m\u001b]0;pwned\u0007 title" '
        'xmlUrl="http://e.example/f"/></body></opml>'
    )
    assert document.sources[0].title == "evil title"


def test_entities_doctype_and_encodings():
    latin = '<?xml version="1.0" encoding="ISO-8859-1"?><opml><body><outline text="Caf\xe9 &eacute;t&eacute;" xmlUrl="http://a.example/"/></body></opml>'
    assert read_opml(latin.encode("latin-1")).sources[0].title == "Café été"
    bomb = """<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">
    <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
    <opml><body><outline text="&b;" xmlUrl="http://b.example/"/></body></opml>"""
    assert read(bomb).sources[0].title == "&b;"
    utf16 = '<?xml version="1.0" encoding="UTF-16"?><opml><body><outline text="ü" xmlUrl="http://c.example/"/></body></opml>'
    assert read_opml(utf16.encode("utf-16")).sources[0].title == "ü"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not XML"),
        (b"just some text", "not XML"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not XML"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "it is a feed"),
        (b"<html><body><p>hi</p></body></html>", "HTML page"),
        (b'<feed xmlns="http://www.w3.org/2005/Atom"></feed>', "it is a feed"),
    ],
)
def test_not_opml_is_a_one_line_error(data: bytes, message: str):
    with pytest.raises(OpmlError, match=message) as info:
        read_opml(data, origin="x.opml")
    assert "\n" not in str(info.value) and str(info.value).startswith("x.opml: ")


def test_unreadable_files(tmp_path: Path):
    with pytest.raises(OpmlError, match="no such file"):
        read_opml_file(tmp_path / "missing.opml")
    with pytest.raises(OpmlError, match="is a directory"):
        read_opml_file(tmp_path)
    # A link whose file is gone: `ls` shows the list there, so "no such file" misled.
    (tmp_path / "link.opml").symlink_to(tmp_path / "gone.opml")
    with pytest.raises(OpmlError, match=r"link\.opml: a link to .*gone\.opml, which does not"):
        read_opml_file(tmp_path / "link.opml")


def test_addresses_no_server_tells_apart_are_one_source():
    """A default port, `%7E` for `~`, lower-case percent hex and a Unicode host for its
    punycode all reach the same feed: merged, the first spelling kept."""
    document = read(
        """<opml><body>
        <outline text="a" xmlUrl="http://x.example/~ana/feed"/>
        <outline text="a port" xmlUrl="http://x.example:80/%7Eana/feed"/>
        <outline text="b" xmlUrl="https://bücher.example/r%c3%a9sum%C3%A9"/>
        <outline text="b puny" xmlUrl="https://xn--bcher-kva.example:443/r%C3%A9sum%c3%a9"/>
        <outline text="other port" xmlUrl="http://x.example:8080/~ana/feed"/>
        <outline text="other path" xmlUrl="http://x.example/%2Fana/feed"/>
        </body></opml>"""
    )
    assert [s.title for s in document.sources] == ["a", "b", "other port", "other path"]
    assert document.merged == 2


def test_a_site_address_is_kept_only_when_a_browser_may_open_it():
    document = read(
        """<opml><body>
        <outline text="js" xmlUrl="https://a.example/feed" htmlUrl="javascript:alert(1)"/>
        <outline text="file" xmlUrl="https://b.example/feed" htmlUrl="file:///etc/passwd"/>
        <outline text="ok" xmlUrl="https://c.example/feed" htmlUrl="https://c.example/"/>
        <outline text="page" type="html" url="https://d.example/news"
                 htmlUrl="https://d.example/" selector="a"/>
        </body></opml>"""
    )
    sites = {s.title: s.html_url for s in document.sources}
    assert sites == {"js": "", "file": "", "ok": "https://c.example/", "page": "https://d.example/"}
    assert b"javascript" not in write_opml(document.sources, title="t")


def test_html_page_sources_with_a_selector():
    document = read(
        '<opml><body><outline text="Notices" type="html" url="https://gov.example/notices" '
        'selector="ul.news a"/></body></opml>'
    )
    source = document.sources[0]
    assert (source.type, source.url, source.selector) == (
        "html",
        "https://gov.example/notices",
        "ul.news a",
    )


# -- tags, and lists nested deeper than a parser goes ------------------------------------------


def test_the_category_attribute_marks_the_root_and_commas_inside_a_path():
    """A feed outside any folder is filed under its first `category` path (newsboat's
    export has no folders), unless the root `/` is named: then it has tags and no topic.
    `‚` (U+201A) stands for a comma inside one path."""
    document = read(
        '<opml><body><outline text="A" xmlUrl="https://a.example/f" category="/News,Science"/>'
        '<outline text="B" xmlUrl="https://b.example/f" category="/,/News/World,Science"/>'
        '<outline text="C" xmlUrl="https://c.example/f" category="/Arts\u201a Culture/Film"/>'
        "</body></opml>"
    )
    by_title = {s.title: (s.category, s.tags) for s in document.sources}
    assert by_title == {
        "A": ("News", ("Science",)),
        "B": ("", ("News/World", "Science")),
        "C": ("Arts, Culture/Film", ()),
    }


def _nested(depth: int, *, after: str = "") -> bytes:
    return (
        '<opml version="2.0"><head><title>deep</title></head><body>'
        '<outline text="Before" xmlUrl="https://before.example/f"/>'
        + "".join(f'<outline text="L{i}">' for i in range(depth))
        + '<outline text="Deep" xmlUrl="https://deep.example/f"/>'
        + "</outline>" * depth
        + after
        + "</body></opml>"
    ).encode()


def test_a_list_nested_300_levels_deep_is_read_whole():
    """Found by review: past 256 levels (libxml2's default limit) the parser stopped and the
    whole list read as empty, in silence."""
    document = read_opml(
        _nested(300, after='<outline text="After" xmlUrl="https://after.example/f"/>')
    )
    by_title = {s.title: s.category for s in document.sources}
    assert set(by_title) == {"Before", "Deep", "After"}
    assert by_title["Deep"].split("/") == [f"L{i}" for i in range(300)]
    assert not document.skipped


def test_nesting_deeper_than_the_parser_goes_is_reported_in_one_line():
    """2048 levels is where libxml2 stops even with `huge_tree`: what it did not read is
    one line in `skipped` (`sources list` shows it), never lost in silence."""
    from aggregator import sources

    document = read_opml(
        _nested(2100, after='<outline text="After" xmlUrl="https://a.example/f"/>')
    )
    assert [s.title for s in document.sources] == ["Before"]  # read up to where it stops
    (unread,) = document.skipped
    assert unread.title == "the rest of the list" and not unread.url
    assert "deeper than 2048 levels" in unread.reason and "\n" not in unread.reason
    assert sources.unread_part(document) == unread.reason


def test_a_site_listed_without_its_feed_is_skipped_with_why():
    """An outline with only an htmlUrl (some exporters write a site so) was dropped without a
    word (found by review); a folder that carries an htmlUrl is still a folder."""
    document = read_opml(
        b'<opml version="2.0"><body>'
        b'<outline text="Site" htmlUrl="https://site.example/"/>'
        b'<outline text="Blank" xmlUrl="" htmlUrl="https://blank.example/"/>'
        b'<outline text="Folder" htmlUrl="https://folder.example/">'
        b'<outline text="Feed" xmlUrl="https://feed.example/rss"/></outline>'
        b"</body></opml>"
    )
    assert [s.url for s in document.sources] == ["https://feed.example/rss"]
    assert document.sources[0].category == "Folder"
    assert [(k.url, k.title) for k in document.skipped] == [
        ("https://site.example/", "Site"),
        ("https://blank.example/", "Blank"),
    ]
    assert all("no feed address" in k.reason for k in document.skipped)


def test_every_folder_is_read_even_one_with_no_feed_in_it():
    document = read(
        """<opml version="2.0"><body>
        <outline text="Medicine"><outline type="rss" text="A" xmlUrl="https://a.example/rss"/></outline>
        <outline text="Science"/>
        <outline text="News" title="News"><outline text="World"></outline></outline>
        <outline text="Site" htmlUrl="https://site.example/"/>
        <outline type="link" text="Other list" url="https://lists.example/x.opml"/>
        <outline text="Film/TV"/>
        </body></opml>"""
    )
    assert document.folders == ("Medicine", "Science", "News", "News/World", "Film\u2215TV")
    assert [s.category for s in document.sources] == ["Medicine"]
