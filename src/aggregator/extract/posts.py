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
    r"(?i)(?:\bcontinue reading\b[^\n]{0,120}"
    r"|\bread (?:more|the (?:full|rest)(?: \w+)?)(?:\s+(?:at|on|in)\s+[^.!?\n]{0,40})?"
    r"|\b(?:lire la suite|weiterlesen|leer más|seguir leyendo|continuar lendo|verder lezen"
    r"|continua a leggere)\b[^\n]{0,120})\W*$"
)
"""A link to the page at a teaser's end ("Continue reading →", "Read more at Site")."""
_FIRST_ON = re.compile(
    r"(?is)\b(?:the post|l[’']article|der beitrag|el art[ií]culo|la entrada|o post"
    r"|het bericht|il post|l[’']articolo)\b[^\n]{0,300}?"
    r"\b(?:appeared first on|est apparu en premier sur|erschien zuerst auf"
    r"|se public[óo] primero en|apareceu primeiro em|verscheen eerst op"
    r"|(?:è )?apparso per la prima volta su)\b[^\n]*$"
)
"""The line WordPress (Yoast) adds to a feed's items: "The post X appeared first on Y"."""


def is_teaser(post_html: str, article_text: str, title: str = "") -> bool:
    """Whether the post says nothing the page does not: every word of it is the page's (or
    the title's), but for a last word cut in half and a "Continue reading" line. A post that
    quotes the page and says anything outside the quote is a post."""
    markup, root = parse_html(post_html) if post_html.strip() else (post_html, None)
    titled = set(_words(title))
    if root is not None and root.find(".//blockquote") is not None:
        outside = " ".join(root.xpath("//text()[not(ancestor::blockquote)]"))
        if set(_words(_trimmed(outside))) - titled:
            return False
    words = [w for w in _words(_trimmed(html_to_text(markup))) if w not in titled]
    if not words:  # (an image alone is the post's own)
        return root is None or root.find(".//img") is None
    found = set(_words(article_text))
    new = [w for w in words if w not in found]
    if not new:
        return True
    last = words[-1]
    return new == [last] and any(word.startswith(last) for word in found)


def _trimmed(text: str) -> str:
    """Without the lines feeds add to a teaser's end."""
    paragraphs = text.rstrip().split("\n\n")
    paragraphs[-1] = _FIRST_ON.sub("", paragraphs[-1])
    return _MORE.sub("", "\n\n".join(paragraphs).rstrip())


def _words(text: str) -> list[str]:
    """Words folded alike however they were typed (accents composed or not, any case)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
