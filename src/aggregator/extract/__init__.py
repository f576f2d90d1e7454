"""HTML → what the library keeps: plain text for the index (`text`), Markdown for reading
(`markdown`), and the main text of an article page (`article`)."""

from aggregator.extract.article import Article, covers, extract_article
from aggregator.extract.markdown import enclosures_markdown, html_to_markdown
from aggregator.extract.reading import html_to_reading_text
from aggregator.extract.text import has_words, html_to_text

__all__ = [
    "Article",
    "covers",
    "enclosures_markdown",
    "extract_article",
    "has_words",
    "html_to_markdown",
    "html_to_reading_text",
    "html_to_text",
]
