"""Any text typed into the search bar gives results or a one-line `UserError`, never an
internal error: thousands of random queries built from the query language's own pieces
(operators, fields, quotes, brackets, dates, wildcards, near words) in random order, run
against a small library. Seeded, so a failure names a query that can be run again."""

from __future__ import annotations

import random

import pytest

from aggregator.config import load_settings
from aggregator.errors import UserError
from aggregator.library import open_library
from aggregator.models import EntryDraft, Source
from aggregator.search import parse_query
from aggregator.sources import save_opml

FEED = "https://fuzz.example/feed"
PIECES = [
    "vaccine", "hospital", "night", "train", "Santé", "müller", "東京", "気候変動", "الصحة",
    "ﬁnding", "the", "a", "U.S.", "don't", "x", "OR", "AND", "NOT", "ANDNOT", "ANDMAYBE",
    "REQUIRE", "or", "not", "-", "-night", "+night", '"', '"night train"', "(", ")", "[", "]",
    "{", "}", ":", "::", "title:", "author:", "source:", "category:", "url:", "published:",
    "topic:", "nofield:", "title:night", 'url:"a/1"', "url:https://fuzz.example/a?b=1#c",
    "published:2024", "published:>2024-06", "published:<=2023", "published:[2024-01 to 2024-03]",
    "published:[* TO 2023-06]", "published:>-7d", "published:2024-02-30", "published:today",
    "published:>-99999999999999999999y", "*", "?", "vacc*", "z?brafish", "*a*", "hos~",
    "hospital~", "hospital~1", "hospital~99", "~", "^2", "hospital^3", "\\", "/", "'", "!",
    "&&", "||", "\x1b[2J", "\u202e", "é" * 70, "🚀", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "０１２",
]  # fmt: skip


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("fuzz")
    opml = home / "list.opml"
    save_opml(opml, [Source(url=FEED, title="Fuzz", category="Medicine/Oncology")], title="t")
    lib = open_library(load_settings(data_dir=home / "data", opml=str(opml)))
    texts = [
        "Night train to Tokyo 東京の天気予報と気候変動",
        "Santé: a hospital's vaccine trial, Müller reports",
        "الصِّحَّة العامة and the ﬁnding of the U.S. study",
        "Zebrafish and quasars; don't miss the night sky",
    ]
    lib.store.upsert_entries(
        FEED,
        [
            EntryDraft(guid=str(i), title=t[:30], text=t, url=f"https://fuzz.example/{i}")
            for i, t in enumerate(texts)
        ],
    )
    assert lib.update_index() == len(texts)
    yield lib
    lib.close()


@pytest.mark.parametrize("seed", range(6))
def test_random_queries_never_fail_inside(library, seed: int):
    rng = random.Random(seed)
    for _ in range(250):
        glue = rng.choice([" ", "", " ", " "])
        query = glue.join(rng.choice(PIECES) for _ in range(rng.randint(1, 9)))
        try:
            parse_query(query)
            parse_query(query, any_word=True)
            library.search(query, limit=5)
            library.search(query, limit=5, sort="newest", category="oncology")
        except UserError:
            pass  # a one-line message is an answer
        except Exception as exc:  # pragma: no cover - the failure names the query
            pytest.fail(f"{query!r}: {type(exc).__name__}: {exc}")
