"""A feed's post beside the page it links to: is it only a teaser of that page?

A feed item of a few words is taken for a teaser, and the page it links to is fetched in its
place. For a link blog the post is someone's own words about someone else's page: it is kept
and shown above the page unless it adds nothing to it. Doubt keeps the post: a teaser shown
twice costs less than a remark lost.
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Iterator

from aggregator.extract.text import html_to_text, page_tree, parse_html

_WORD = re.compile(r"\w+")
_MORE = re.compile(
    r"(?i)\b(?:continue reading|keep reading|read (?:more|full|the (?:full|rest))"
    r"|lire la suite|weiterlesen|leer más|seguir leyendo|continuar lendo|verder lezen"
    r"|continua a leggere)\b"
)
"""A link to the page at a teaser's end ("Continue reading →", "Read more at site.com",
"Read the rest of this entry »")."""
_LINK_WORDS = frozenset((
    "at", "on", "in", "of", "this", "the", "entry", "post", "article", "story", "here",
    "full", "rest", "com", "org", "net", "www", "html",
))  # fmt: skip
"""Words that may follow a "read more" in a link to the page (with the title's, and at
most three others: a site's name), not a remark's."""
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
    in half and a "Continue reading" line; or the post is the title, or a part of it. A
    post that quotes the page and says anything outside the quote is a post."""
    markup, root = parse_html(post_html) if post_html.strip() else (post_html, None)
    titled = _words(title)
    if root is not None and root.find(".//blockquote") is not None:
        outside = " ".join(root.xpath("//text()[not(ancestor::blockquote)]"))
        said = _words(_trimmed(outside, titled))
        if said and not _part_of(said, titled):
            return False
    words = _words(_trimmed(html_to_text(markup), titled))
    if not words:  # (an image alone is the post's own)
        return root is None or root.find(".//img") is None
    if _part_of(words, titled):
        return True
    covered = [False] * len(words)
    if titled and words[: len(titled)] == titled:  # "Title. The excerpt…"
        covered[: len(titled)] = [True] * len(titled)
    runs = _runs(words)
    found = _found(_each_word(article_text), runs, words) | _found(iter(titled), runs, words)
    for i in range(len(words) - _RUN + 1):
        if tuple(words[i : i + _RUN]) in found:
            covered[i : i + _RUN] = [True] * _RUN
    return all(covered)


def page_text(page: bytes | str) -> str:
    """Every word a page shows but its comments: its menus, captions and credits too, what
    a feed's excerpt of it may hold that the extracted article does not (WordPress's
    excerpt is the post's first 55 words, a photo credit among them). Comments go: a
    pingback there quotes the very post that links to the page, whose remark would then
    seem the page's."""
    root = page_tree(page)
    if root is None:
        return ""
    for talk in root.xpath(_TALK):
        talk.clear(keep_tail=True)
    return " ".join(root.itertext())


_LOWER = "translate({}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
_TALK = (
    "//*["
    + " or ".join(
        f"contains({_LOWER.format(attribute)}, '{word}')"
        for attribute in ("@id", "@class")
        for word in ("comment", "pingback", "trackback", "respond", "disqus", "discussion")
    )
    + "]"
)
"""Comment sections, as WordPress, Disqus and most themes name them."""


def _runs(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + _RUN]) for i in range(len(words) - _RUN + 1)}


def _found(
    page: Iterator[str], runs: set[tuple[str, ...]], words: list[str]
) -> set[tuple[str, ...]]:
    """The post's runs that the page has (one pass over the page, memory in proportion to
    the post); a last run whose last word the page has longer counts (a word cut in half)."""
    found = set()
    cut = tuple(words[-_RUN:]) if len(words) >= _RUN else None
    window: deque[str] = deque(maxlen=_RUN)
    for word in page:
        window.append(word)
        if len(window) < _RUN:
            continue
        run = tuple(window)
        if run in runs:
            found.add(run)
        elif cut is not None and run[:-1] == cut[:-1] and run[-1].startswith(cut[-1]):
            found.add(cut)
    return found


def _part_of(words: list[str], titled: list[str]) -> bool:
    """Whether these words are the title's, in a row, half of it at least (a post that only
    repeats it, maybe cut short; not "This." under "This is why…")."""
    size = len(words)
    return len(titled) / 2 <= size <= len(titled) and any(
        titled[i : i + size] == words for i in range(len(titled) - size + 1)
    )


def _trimmed(text: str, titled: list[str]) -> str:
    """Without the lines feeds add to a teaser's end (unless that is all there is)."""
    text = text.rstrip()
    head, tail = text[:-_TAIL], _FIRST_ON.sub("", text[-_TAIL:])
    more = next(reversed(list(_MORE.finditer(tail))), None)  # the last one
    if more is not None:
        after = set(_words(tail[more.end() :])) - _LINK_WORDS - set(titled)
        if len(after) <= 3:  # a link's words (a site's name), not a remark's
            tail = tail[: more.start()]
    trimmed = (head + tail).rstrip()
    return trimmed if _WORD.search(trimmed) else text


def _each_word(text: str) -> Iterator[str]:
    """Words folded alike however they were typed (accents composed or not, any case), one
    at a time (an article may be megabytes). Folded before they are told apart, a piece
    between spaces at a time: folding may add a mark (`İ` is `i̇`) that splits no word."""
    for piece in _PIECE.finditer(unicodedata.normalize("NFKC", text)):
        yield from _WORD.findall(piece[0].casefold())


def _words(text: str) -> list[str]:
    return list(_each_word(text))


_PIECE = re.compile(r"\S+")
