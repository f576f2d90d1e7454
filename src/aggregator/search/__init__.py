"""A query language people can use, read forgivingly, over the Whoosh index.

Words must all match (ranked by BM25F over title and text); `OR`, `NOT` and `-word`;
"exact phrases"; fields (`title:`, `author:`, `source:`, `category:`, `url:`); dates
(`published:2024`, `published:>2024-06-01`, `published:[2024-01 to 2024-03]`,
`published:>-7d`), clauses like the others (`NOT published:2024`); `word*`, `z?brafish` and
`word~`. The query is read by its own small parser (`_Reader`), each word by the index's
analyzer: what cannot be read is passed over or read as words, and the notes say so. A
question whose words do not all appear together is ranked by how many of its plain words
match, and how well, its fields, exclusions, phrases and dates kept, instead of finding
nothing.

The modules, each importing only those listed before it: `phrases` (`FastPhrase`),
`characters` (CJK characters as the index holds them, in pairs), `words`
(fields, what a word becomes in them), `near` (`word~`, prefixes and wildcards), `dates`,
`forgiving` (the typed text made readable), `any_word` (`ParsedQuery` and its any-word reading),
`reading` (`parse_query`: tokens and the reader), `suggestions` ("did you mean"), `snippets`,
and `searcher` (`Searcher`: running a query, filters, facets).
"""

from aggregator.search.reading import parse_query
from aggregator.search.searcher import RawHit, RawResults, Searcher
from aggregator.search.snippets import snippet

__all__ = ["RawHit", "RawResults", "Searcher", "parse_query", "snippet"]
