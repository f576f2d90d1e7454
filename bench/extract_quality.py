"""Article-extraction quality: aggregator's extract_article against trafilatura itself, as token
F1 over Mozilla Readability's test pages (real captured pages and small synthetic cases).

    python bench/extract_quality.py

Needs ../shared beside the project (../shared/corpus/readability-test-pages); no network.
For each page, the extracted text and the text of expected.html are lowercased and split into
\\w+ tokens (Unicode); precision, recall and F1 are taken over the token multisets. Three rows:
aggregator's extract_article, trafilatura at its defaults, and trafilatura with the product's
settings (include_comments=False, favor_precision=True, plain text). Each row also gives the
pages where nothing was extracted and the median time per page; the ten worst pages by F1 of
each row are listed, and everything is saved as JSON under bench/results.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import lxml.html
import trafilatura

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED, save

from aggregator.extract import extract_article

PAGES = SHARED / "corpus" / "readability-test-pages" / "test" / "test-pages"
FAKEHOST = "http://fakehost/test/page.html"
TOKEN = re.compile(r"\w+")

Extractor = Callable[[bytes, str], str]
EXTRACTORS: dict[str, Extractor] = {
    "aggregator extract_article": lambda src, url: (
        article.text if (article := extract_article(src, url)) else ""
    ),
    "trafilatura defaults": lambda src, url: trafilatura.extract(src, url=url) or "",
    "trafilatura precision settings": lambda src, url: (
        trafilatura.extract(src, url=url, include_comments=False, favor_precision=True) or ""
    ),
}


def tokens(text: str) -> Counter[str]:
    return Counter(TOKEN.findall(text.lower()))


def page_url(source: bytes) -> str:
    """The canonical link or og:url of the page when absolute http(s), else readability's fakehost."""
    try:
        root = lxml.html.fromstring(source)
    except (ValueError, lxml.etree.ParserError):
        return FAKEHOST
    found = root.xpath(
        "//link[contains(concat(' ', normalize-space(@rel), ' '), ' canonical ')]/@href"
        " | //meta[@property='og:url']/@content"
    )
    urls = [u.strip() for u in found if u.strip().startswith(("http://", "https://"))]
    return urls[0] if urls else FAKEHOST


def score(got: Counter[str], want: Counter[str]) -> tuple[float, float, float]:
    common = sum((got & want).values())
    precision = common / sum(got.values()) if got else 0.0
    recall = common / sum(want.values()) if want else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def run(name: str, extract: Extractor, pages: list[tuple[str, bytes, str, Counter[str]]]) -> dict:
    extract(pages[0][1], pages[0][2])  # warm-up: lazy imports and caches stay out of the timings
    rows, times = [], []
    for page, source, url, want in pages:
        started = time.perf_counter()
        text = extract(source, url)
        times.append((time.perf_counter() - started) * 1000)
        precision, recall, f1 = score(tokens(text), want)
        rows.append(
            {
                "page": page,
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "empty": not text.strip(),
                "tokens": len(TOKEN.findall(text)),
            }
        )
    mean = {k: statistics.fmean(r[k] for r in rows) for k in ("precision", "recall", "f1")}
    med = {k: statistics.median(r[k] for r in rows) for k in ("precision", "recall", "f1")}
    return {
        "name": name,
        "mean": mean,
        "median": med,
        "empty": sum(r["empty"] for r in rows),
        "median_ms": statistics.median(times),
        "worst": sorted(rows, key=lambda r: r["f1"])[:10],
        "pages": rows,
    }


def main() -> None:
    if not PAGES.is_dir():
        sys.exit(
            f"test pages not found at {PAGES}: this benchmark needs ../shared beside the project"
        )
    pages = []
    for folder in sorted(p for p in PAGES.iterdir() if (p / "expected.html").exists()):
        source = (folder / "source.html").read_bytes()
        # expected.html is UTF-8 without a charset declaration: decode it before lxml guesses Latin-1
        expected = lxml.html.fromstring(
            (folder / "expected.html").read_text("utf-8")
        ).text_content()
        pages.append((folder.name, source, page_url(source), tokens(expected)))
    results = [run(name, extract, pages) for name, extract in EXTRACTORS.items()]

    print(f"{len(pages)} pages from {PAGES}\n")
    print(
        "| extractor | P mean | P median | R mean | R median | F1 mean | F1 median | empty | ms/page (median) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        mean, med = r["mean"], r["median"]
        print(
            f"| {r['name']} | {mean['precision']:.3f} | {med['precision']:.3f} | {mean['recall']:.3f} "
            f"| {med['recall']:.3f} | {mean['f1']:.3f} | {med['f1']:.3f} | {r['empty']} | {r['median_ms']:.1f} |"
        )
    for r in results:
        print(f"\n10 worst pages by F1, {r['name']}:\n")
        print("| page | P | R | F1 | empty |\n|---|---|---|---|---|")
        for w in r["worst"]:
            print(
                f"| {w['page']} | {w['precision']:.3f} | {w['recall']:.3f} | {w['f1']:.3f} | {'yes' if w['empty'] else ''} |"
            )
    path = save(
        "extract",
        {
            "corpus": str(PAGES),
            "pages": len(pages),
            "results": results,
            "trafilatura": trafilatura.__version__,
        },
    )
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
