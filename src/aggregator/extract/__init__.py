"""HTML → what the library keeps: plain text for the index (`text`), Markdown for reading
(`markdown`), plain text for reading (`reading`), the main text of an article page
(`article`), and whether a feed's post is only a teaser of that page (`posts`)."""

from aggregator.extract.article import Article, extract_article
from aggregator.extract.markdown import enclosures_markdown, html_to_markdown
from aggregator.extract.posts import is_teaser, page_text
from aggregator.extract.reading import html_to_reading_text
from aggregator.extract.text import has_words, html_to_text

__all__ = [
    "Article",
    "enclosures_markdown",
    "extract_article",
    "has_words",
    "html_to_markdown",
    "html_to_reading_text",
    "html_to_text",
    "is_teaser",
    "page_text",
]
