"""What token F1 cannot see, over Mozilla Readability's test pages: numbered lists, and feed
excerpts shown twice above the page they come from.

    python bench/article_structure.py

Needs ../shared beside the project (../shared/corpus/readability-test-pages); no network.
- Numbered lists: the `<ol>`s of each expected.html, against those of the HTML
  extract_article keeps for the page (trafilatura's own HTML makes every list a `<ul>`).
- Excerpts: for each page whose expected text has 80 words or more, an excerpt made as
  WordPress makes one (the first 55 words, then "[…]") should be judged a teaser of its page,
  not a post of its own to show above it. Counted as the fetch judges it (beside the article,
  then beside every word the page shows), and beside the article alone for comparison.
Results are printed and saved as JSON under bench/results.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED, save

from aggregator import jobs
from aggregator.extract import extract_article, html_to_text

PAGES = SHARED / "corpus" / "readability-test-pages" / "test" / "test-pages"
NUMBERED = re.compile(r"<ol[\s>]")
URL = "http://fakehost/test/page.html"


def main() -> None:
    if not PAGES.is_dir():
        sys.exit(f"corpus not found at {PAGES}")
    lists = {"expected": 0, "extracted": 0, "pages": []}
    excerpts = {"pages": 0, "post_beside_article": [], "post_as_fetched": []}
    for page_dir in sorted(PAGES.iterdir()):
        source = (page_dir / "source.html").read_bytes()
        expected_html = (page_dir / "expected.html").read_text(errors="replace")
        article = extract_article(source, URL)
        if article is None:
            continue
        wanted, found = len(NUMBERED.findall(expected_html)), len(NUMBERED.findall(article.html))
        if wanted or found:
            lists["pages"].append({"page": page_dir.name, "expected": wanted, "extracted": found})
            lists["expected"] += wanted
            lists["extracted"] += min(wanted, found)
        words = html_to_text(expected_html).split()
        if len(words) < 80:
            continue
        meta = page_dir / "expected-metadata.json"
        title = (json.loads(meta.read_text()).get("title") or "") if meta.exists() else ""
        excerpt = "<p>" + " ".join(words[:55]) + " [&hellip;]</p>"
        excerpts["pages"] += 1
        if jobs.post_job(excerpt, article.text, title):
            excerpts["post_beside_article"].append(page_dir.name)
        fetched = jobs.article_job(source, URL, excerpt, title)
        if fetched is not None and fetched[1]:
            excerpts["post_as_fetched"].append(page_dir.name)
    print(f"numbered lists: {lists['extracted']} of {lists['expected']} kept numbered")
    for row in lists["pages"]:
        print(f"  {row['page']:30} expected {row['expected']:2}  extracted {row['extracted']:2}")
    total = excerpts["pages"]
    for key, label in (("post_beside_article", "beside the article alone"),
                       ("post_as_fetched", "as the fetch judges")):  # fmt: skip
        names = excerpts[key]
        print(f"excerpts taken for a post, {label}: {len(names)} of {total}: {' '.join(names)}")
    print(f"saved {save('structure', {'lists': lists, 'excerpts': excerpts})}")


if __name__ == "__main__":
    main()
