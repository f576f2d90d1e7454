"""What text becomes in the index, in every script: folding (case, diacritics, compatibility
forms, invisible characters), Chinese, Japanese and Korean as bigrams, and the same words with
their offsets for queries and snippets."""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path

import pytest
from whoosh import query as Q

from aggregator.config import load_settings
from aggregator.index import FoldStemTokenizer, fold, words_at
from aggregator.index.folding import FOLDS
from aggregator.library import Library, open_library
from aggregator.models import EntryDraft, Source
from aggregator.search import parse_query
from aggregator.sources import save_opml

FEED = "https://feed.example/rss"
TOKENIZER = FoldStemTokenizer()


def tokens(text: str) -> list[tuple[str, int, str]]:
    """The query path's tokens: (term, position, the text they were read from)."""
    return [
        (t.text, t.pos, text[t.startchar : t.endchar])
        for t in TOKENIZER(text, positions=True, chars=True)
    ]


# -- Chinese, Japanese, Korean -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("東京の天気", ["東京", "京の", "の天", "天気"]),
        ("雨 rain", ["雨", "rain"]),  # a lone character is its own term
        ("东京tokyo2024年", ["东京", "tokyo2024", "年"]),
        ("コーヒーを", ["コー", "ーヒ", "ヒー", "ーを"]),  # ー is part of a katakana word
        ("서울에서 만나요", ["서울", "울에", "에서", "만나", "나요"]),
        ("「東京」、気候。", ["東京", "気候"]),  # punctuation ends a run
    ],
)
def test_cjk_runs_are_indexed_as_overlapping_bigrams(text: str, terms: list[str]):
    assert TOKENIZER.terms(text) == terms
    assert [term for term, _, _ in tokens(text)] == terms


def test_a_query_of_cjk_characters_is_a_phrase_of_bigrams():
    """Two characters are one term; more are a phrase of the bigrams, found inside longer
    runs, in the order typed."""
    (title, content) = parse_query("東京").query.subqueries
    assert (title, content) == (Q.Term("title", "東京"), Q.Term("content", "東京"))
    phrases = parse_query("気候変動").query.subqueries
    assert [(p.fieldname, p.words) for p in phrases] == [
        ("title", ["気候", "候変", "変動"]),
        ("content", ["気候", "候変", "変動"]),
    ]
    assert all(isinstance(p, Q.Phrase) for p in phrases)


def test_bigram_tokens_carry_their_positions_and_characters():
    text = "東京 では ｶﾞｲﾄﾞ"
    assert tokens(text) == [
        ("東京", 0, "東京"),
        ("では", 1, "では"),
        ("ガイ", 2, "ｶﾞｲ"),  # half-width: two characters each, folded to one
        ("イド", 3, "ｲﾄﾞ"),
    ]


def test_snippets_see_the_bigrams_the_index_holds():
    text = "速報：東京では今日、気候変動の会議"
    words, start = words_at(text)
    assert TOKENIZER.word_terms(words) == TOKENIZER.terms(text)
    assert [(w, start(k)) for k, w in enumerate(words)][:3] == [
        ("速報", 0),
        ("東京", 3),
        ("京で", 4),
    ]


# -- folding -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("الصِّحَّة", "الصحة"),  # Arabic harakat
        ("أحمد", "احمد"),  # hamza above
        ("كتــاب", "كتاب"),  # tatweel
        ("שָׁלוֹם", "שלום"),  # Hebrew points
        ("Ἀθῆναι", "αθηναι"),  # Greek breathing, accent
        ("ёлка", "елка"),
        ("Việt Nam", "viet nam"),
        ("Mu\u0308ller", "muller"),  # decomposed: was "mutller"
        ("Sante\u0301", "sante"),
        ("SANTÉ Müller", "sante muller"),  # as before
    ],
)
def test_diacritics_are_folded_in_every_script(written: str, folded: str):
    assert fold(written) == folded
    assert TOKENIZER.terms(written) == TOKENIZER.terms(folded)


@pytest.mark.parametrize(
    "kept",
    [
        "が",  # kana voicing: が is not か
        "ガイド",
        "कुछ हिंदी",  # Devanagari vowel signs and anusvara are letters' own parts
        "ภาษาไทย ไม่",  # Thai vowels and tone marks
    ],
)
def test_marks_that_are_part_of_a_letter_stay(kept: str):
    assert fold(kept) == unicodedata.normalize("NFC", kept)


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("ﬁnding ﬂow", "finding flow"),  # ligatures
        ("ＴＯＫＹＯ　２０２４", "tokyo 2024"),  # full-width, ideographic space
        ("ｶﾞｲﾄﾞﾌﾞｯｸ", "ガイドブック"),  # half-width katakana, voicing marks joined
        ("㎒ ① Ⅻ", "mhz 1 xii"),
        ("ﬃ\u00a0x", "ffi x"),
    ],
)
def test_compatibility_forms_are_folded(written: str, folded: str):
    assert fold(written) == folded


def test_invisible_characters_inside_a_word_keep_it_one_word():
    assert TOKENIZER.terms("infor\u00admation") == ["inform"]  # soft hyphen
    assert TOKENIZER.terms("\u200fشكرا\u200f") == ["شكرا"]  # direction marks
    assert TOKENIZER.terms("ab\u200dc ☃\ufe0f") == ["abc"]  # joiner, variation selector
    assert TOKENIZER.terms("zero\u200bwidth") == ["zero", "width"]  # a zero-width space parts


def test_folding_character_by_character_is_whole_text_nfkc():
    """`fold` skips normalising the whole text unless it joins characters; the result is the
    same as normalising first, whatever is mixed."""
    pool = list(
        "aeAEsΣσ ÉéÅ\u0301\u0308\u0323ßøİ ﬁﬀＡａ１ ｶｷﾞﾟｰ カか\u3099 東京 서가\u1100\u1161\u11a8ㄱㅏ"
        "\uffa1 الصِّحَّةأ\u0654\u0640 שָׁ कु\u093c\u0958 ไท\u0e48 ½㈱™ \u00ad\u200d\u200b\ufe0f\u00a0，。"
    )
    rng = random.Random(5)
    for _ in range(20_000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 10)))
        whole = unicodedata.normalize("NFKC", text.lower()).translate(FOLDS)
        assert fold(text) == whole, text
        assert [t for t, _, _ in tokens(text)] == TOKENIZER.terms(text), text


def test_tokens_point_at_the_text_as_written():
    """Highlights need each word's place in the original text, however folding changed it."""
    text = "İstanbul: ﬁnding الصِّحَّة e\u0301te\u0301 ＴＯＫＹＯ"
    assert tokens(text) == [
        ("istanbul", 0, "İstanbul"),
        ("find", 1, "ﬁnding"),
        ("الصحة", 2, "الصِّحَّة"),
        ("et", 3, "e\u0301te\u0301"),  # stemmed, as "ete" is
        ("tokyo", 4, "ＴＯＫＹＯ"),
    ]
    words, start = words_at(text)
    assert words == [original for _, _, original in tokens(text)]
    assert [text[start(k) :].startswith(w) for k, w in enumerate(words)] == [True] * 5
    assert TOKENIZER.word_terms(words) == TOKENIZER.terms(text)


# -- a library -----------------------------------------------------------------------------

ENTRIES = {
    "jp": ("東京の天気予報と気候変動", "東京では今日雨が降ります。気候変動の影響について。"),
    "ar": ("الصحة العامة في مصر", "تقرير عن المستشفيات في القاهرة."),
    "ar2": ("الصِّحَّة النَّفْسِيَّة", "مقال."),
    "lig": ("Early ﬁndings", "The ﬁrst results of the survey."),
    "plain": ("Finding a doctor", "Where to look."),
    "kana": ("ｶﾞｲﾄﾞﾌﾞｯｸ", "半角です。"),
    "kana2": ("ガイドブック売り場", "全角です。"),
    "ko": ("서울에서 열린 회의", "회의는 서울시청에서 열렸다."),
    "de": ("Mu\u0308ller berichtet", "Ein Bericht."),
}


@pytest.fixture
def lib(tmp_path: Path):
    opml = tmp_path / "list.opml"
    save_opml(opml, [Source(url=FEED, title="Feed", category="World")], title="t")
    with open_library(load_settings(data_dir=tmp_path / "home", opml=str(opml))) as library:
        library.store.upsert_entries(
            FEED,
            [
                EntryDraft(guid=key, title=title, text=text)
                for key, (title, text) in ENTRIES.items()
            ],
        )
        library.update_index()
        yield library


def found(lib: Library, query: str) -> set[str]:
    titles = {title: key for key, (title, _) in ENTRIES.items()}
    return {titles[h.title] for h in lib.search(query).hits}


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("東京", {"jp"}),
        ("気候変動", {"jp"}),
        ("天気予報", {"jp"}),
        ("東京の天気予報と気候変動", {"jp"}),
        ("東京変動", set()),  # the bigrams must follow each other
        ("ガイド", {"kana", "kana2"}),  # half-width katakana in one, full-width in the other
        ("ｶﾞｲﾄﾞﾌﾞｯｸ", {"kana", "kana2"}),
        ("서울", {"ko"}),
        ("الصِّحَّة", {"ar", "ar2"}),  # with harakat in one, without in the other
        ("الصحة", {"ar", "ar2"}),
        ("ﬁnding", {"lig", "plain"}),
        ("finding", {"lig", "plain"}),
        ("Müller", {"de"}),
    ],
)
def test_a_library_in_many_scripts_is_searchable(lib: Library, query: str, keys: set[str]):
    assert found(lib, query) == keys


def test_a_cjk_word_is_highlighted(lib: Library):
    (hit,) = lib.search("気候変動").hits
    assert {hit.snippet[a:b] for a, b in hit.highlights} == {"気候変動"}


@pytest.mark.parametrize("query", ["気候変動", "東京変動"])
def test_a_cjk_word_gets_no_did_you_mean(lib: Library, query: str):
    """`気候変動` found its entry and still suggested `気候` (found by review): a word the
    index holds as pairs of characters has no spelling to correct."""
    assert lib.search(query).suggestion == ""
