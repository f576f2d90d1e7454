"""CPU-heavy steps of a fetch run, as plain functions a process pool can pickle and run.

Kept apart from `update` so a pool worker imports only what parsing needs (feedparser, lxml),
not the HTTP client or the store.
"""

from __future__ import annotations

from dataclasses import replace

from aggregator import extract
from aggregator.errors import FeedError
from aggregator.models import EntryDraft
from aggregator.parse import ParsedFeed, canonical_url, parse_feed


def parse_job(
    body: bytes, url: str, headers: dict[str, str], teaser_words: int, full_text: bool
) -> ParsedFeed:
    """Parse a feed and give each entry its plain text and full-text status."""
    parsed = parse_feed(body, url, headers)
    entries = []
    for draft in parsed.entries:
        text = extract.html_to_text(draft.html)
        teaser = full_text or not extract.has_words(text, teaser_words)
        status = "pending" if teaser and draft.url else "feed"
        entries.append(replace(draft, text=text, full_text=status))
    return replace(parsed, entries=entries)


def article_job(
    page: bytes, url: str, post_html: str, title: str
) -> tuple[extract.Article, str] | None:
    """The article on a page, and the text of the feed's post when it is more than a teaser
    of it ("" when it is one): a link blog's own words stay searchable beside the page's."""
    article = extract.extract_article(page, url)
    if article is None:
        return None
    post_text = post_job(post_html, article.text, title)
    # A photo credit or a byline that extraction leaves out is still the page's: a
    # WordPress excerpt holding one was shown twice (25 % of the corpus's pages; 6 % now).
    if post_text and extract.is_teaser(post_html, extract.page_text(page), title):
        post_text = ""
    return article, post_text


def post_job(post_html: str, article_text: str, title: str) -> str:
    """The text of a feed's post beside its article: "" when it is only a teaser of it."""
    teaser = extract.is_teaser(post_html, article_text, title)
    return "" if teaser else extract.html_to_text(post_html)


def links_job(page: bytes, url: str, selector: str) -> tuple[list[object], str]:
    """Article links on a listing page, and the page's title."""
    from aggregator import pages  # BeautifulSoup is needed only by page sources

    links = pages.article_links(page, url, selector)
    if not links:  # a failure to say, not a healthy source with nothing new
        raise FeedError(pages.NO_LINKS, url=url)
    return links, pages.page_title(page)


def page_entry_job(page: bytes, url: str, link: str, link_text: str) -> EntryDraft:
    """An entry for an article linked from a listing page; partial when nothing is found."""
    draft = EntryDraft(
        guid=link,
        url=link,
        canonical_url=canonical_url(link),
        title=link_text or link,
        full_text="partial",
        fingerprint=f"page:{link}",
    )
    article = extract.extract_article(page, url) if page else None
    if article is None:
        return draft
    return replace(
        draft,
        title=article.title or draft.title,
        author=article.author,
        published=article.published,
        summary=" ".join(article.text.split()[:60]),
        html=article.html,
        text=article.text,
        full_text="full",
    )
