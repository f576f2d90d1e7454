"""A feed's post beside the page it links to: is it only a teaser of that page?

A feed item of a few words is taken for a teaser, and the page it links to is fetched in its
place. For a link blog the post is someone's own words about someone else's page: it is kept
and shown above the page unless it adds nothing to it. Doubt keeps the post: a teaser shown
twice costs less than a remark lost.
"""

from __future__ import annotations

import re
import unicodedata

from aggregator.extract.text import html_to_text, parse_html

_WORD = re.compile(r"\w+")
_MORE = re.compile(
    r"(?i)\b(?:continue reading|keep reading|read (?:more|full|the (?:full|rest))"
    r"|lire la suite|weiterlesen|leer más|seguir leyendo|continuar lendo|verder lezen"
    r"|continua a leggere)\b[^\n]{0,80}$"
)
"""A link to the page at a teaser's end ("Continue reading →", "Read more at site.com",
"Read the rest of this entry »")."""
_FIRST_ON = re.compile(
    r"(?is)\b(?:the post|l[’']article|der beitrag|el art[ií]culo|la entrada|o post"
    r"|het bericht|il post|l[’']articolo)\b.{0,300}?"
    r"\b(?:appeared first on|est apparu en premier sur|erschien zuerst auf"
    r"|se public[óo] primero en|apareceu primeiro em|verscheen eerst op"
    r"|(?:è )?apparso per la prima volta su)\b.{0,200}$"
)
"""The line WordPress (Yoast) adds to a feed's items: "The post X appeared first on Y"."""
_TAIL = 600
"""How much of a post's end the lines above are looked for in (a bounded search: a hostile
post of many "the post"s would otherwise cost time growing with its square)."""
_RUN = 3
"""Words in a row that must be found in a row in the page: any two common words are in
any long article ("this is", "a good"), three in a row seldom are by chance."""


def is_teaser(post_html: str, article_text: str, title: str = "") -> bool:
    """Whether the post says nothing the page does not: each of its words stands in a run
    of three that the page (or the title) has in the same order, but for a last word cut
    in half and a "Continue reading" line. A post that quotes the page and says anything
    outside the quote is a post."""
    markup, root = parse_html(post_html) if post_html.strip() else (post_html, None)
    titled = _words(title)
    in_title = set(titled)
    if root is not None and root.find(".//blockquote") is not None:
        outside = " ".join(root.xpath("//text()[not(ancestor::blockquote)]"))
        if set(_words(_trimmed(outside))) - in_title:
            return False
    words = _words(_trimmed(html_to_text(markup)))
    if not words:  # (an image alone is the post's own)
        return root is None or root.find(".//img") is None
    runs = _runs(_words(article_text)) | _runs(titled)
    covered = [word in in_title for word in words]
    for i in range(len(words) - _RUN + 1):
        if tuple(words[i : i + _RUN]) in runs:
            covered[i : i + _RUN] = [True] * _RUN
    if not covered[-1] and len(words) >= _RUN:  # a last word cut in half
        head = tuple(words[-_RUN:-1])
        covered[-1] = any(run[:-1] == head and run[-1].startswith(words[-1]) for run in runs)
    return all(covered)


def _runs(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + _RUN]) for i in range(len(words) - _RUN + 1)}


def _trimmed(text: str) -> str:
    """Without the lines feeds add to a teaser's end (unless that is all there is)."""
    text = text.rstrip()
    head, tail = text[:-_TAIL], text[-_TAIL:]
    tail = _FIRST_ON.sub("", tail)
    trimmed = _MORE.sub("", head + tail).rstrip()
    return trimmed if _WORD.search(trimmed) else text


def _words(text: str) -> list[str]:
    """Words folded alike however they were typed (accents composed or not, any case)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
