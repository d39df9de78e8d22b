"""Parse the `q` of a search request into query units: words, quoted phrases, prefixes.

User input never reaches Whoosh's query parser: `q` becomes a tuple of `Unit`s here,
each a sequence of `Slot`s (one index token, a prefix of one, or a token with the
near spellings that OCR errors make of it), normalised by `ocr.text.tokens`, the
function the indexer uses on printed words. `hits.py` turns units into term groups
for the store. The language is described in `docs/query-language.md`; nothing in `q`
is an operator except `"`, a trailing `*` and a trailing `~` (with an optional 1 or 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ocr.text import tokens
from search_service.errors import BadQuery

#: More distinct units than this is not a search a person types; refused with a 400.
MAX_UNITS = 32
#: Longest phrase, in tokens.
MAX_PHRASE_TOKENS = 64
#: Most prefixes (`word*`) in one query: each stands for up to 200 index terms, and a
#: phrase of many (`"d* d* d* ..."`) took seconds over a big collection (#16).
MAX_PREFIXES = 4
#: Most fuzzy words (`word~`) in one query: each stands for up to MAX_NEAR_TERMS index terms,
#: like a prefix (#14), and counts against the same kind of work.
MAX_FUZZY = 4
#: The largest edit distance `word~N` may ask for: beyond 2 a word matches other words more than misreadings.
MAX_DISTANCE = 2

# Typographic quotes typed on phones and pasted from word processors count as `"`.
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"', "\u00bb": '"'})
# A quoted run (an unterminated quote runs to the end of `q`), or a bare word.
_PART = re.compile(r'"([^"]*)"?|([^\s"]+)')
# A `*` right after a letter or digit, possibly followed by punctuation ("bir*", "bir*,").
_PREFIX = re.compile(r"[^\W_]\*+[^\w*]*$")
# A `~` right after a letter or digit (or after a prefix's `*`), with an optional distance,
# possibly followed by punctuation ("wort~", "wort~1", "wort~,"). Group 1: the distance.
_FUZZY = re.compile(r"(?<=[^\W_*]|\*)~+([0-9]*)[^\w~]*$")


def auto_distance(token: str) -> int:
    """The edit distance `word~` allows for a token: 0 below 4 letters, 1 for 4 to 7, 2 from 8 (#14).

    Short words stay exact: one edit turns most of them into other common words.

    >>> [auto_distance(w) for w in ("der", "wort", "freiheit")]
    [0, 1, 2]
    """
    return 0 if len(token) < 4 else 1 if len(token) < 8 else 2


@dataclass(frozen=True, slots=True)
class Slot:
    """One token position of a unit: the normalised token, or a prefix of one when `prefix`.

    `distance` > 0 (a fuzzy word, `word~`) lets the slot stand for index terms within that
    many edits of `text` too; a prefix is never fuzzy.
    """

    text: str
    prefix: bool = False
    distance: int = 0

    @property
    def fuzzy(self) -> bool:
        return self.distance > 0


@dataclass(frozen=True, slots=True)
class Unit:
    """Tokens that must follow each other on a page: one word, a hyphenated word, or a phrase.

    `source` is the part of `q` it came from, for messages; `quoted` says it was in quotes.
    """

    slots: tuple[Slot, ...]
    source: str
    quoted: bool = False

    def __len__(self) -> int:
        return len(self.slots)


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed `q`: its units, all of which a page must hold.

    >>> parse_query('Darwin "origin of spe*"').units[1].slots[-1]
    Slot(text='spe', prefix=True, distance=0)
    """

    text: str
    units: tuple[Unit, ...]

    @property
    def is_empty(self) -> bool:
        """True when `q` held nothing searchable (only punctuation, `*`, quotes)."""
        return not self.units

    @property
    def may_be_costly(self) -> bool:
        """Whether counting may need positions of many terms on many pages: a prefix, or a word twice.

        Plain words and phrases of different words are counted from arrays in a few
        milliseconds; these shapes may take up to the server's time limit, so they run
        apart from the others (routes/search.py).

        >>> parse_query("la ville").may_be_costly, parse_query("vill*").may_be_costly
        (False, True)
        >>> parse_query('"de la" de').may_be_costly
        True
        """
        slots = [slot for unit in self.units for slot in unit.slots]
        return any(slot.prefix or slot.fuzzy for slot in slots) or len({slot.text for slot in slots}) < len(slots)

    @property
    def has_fuzzy(self) -> bool:
        """Whether some slot is a fuzzy word (`word~` of four letters or more, or `word~1`)."""
        return any(slot.fuzzy for unit in self.units for slot in unit.slots)

    def as_typed(self) -> Query:
        """This query without `~`: every fuzzy word exact.

        >>> parse_query("freiheit~ kant").as_typed().has_fuzzy
        False
        """
        return Query(
            self.text,
            tuple(
                Unit(tuple(Slot(s.text, s.prefix) for s in unit.slots), unit.source, unit.quoted) for unit in self.units
            ),
        )

    def forgiving(self) -> Query:
        """This query with every plain word made fuzzy (`word` -> `word~`): the server's retry (#14).

        Quoted phrases, prefixes and words already fuzzy stay as they are; a word too short
        for an edit (under 4 letters) stays exact. A query that would then hold more than
        MAX_FUZZY fuzzy words is returned as it is (no retry), the bound `word~` has too.

        >>> [[(s.text, s.distance) for s in u.slots] for u in parse_query('Freiheit "der Staat" kan*').forgiving().units]
        [[('freiheit', 2)], [('der', 0), ('staat', 0)], [('kan', 0)]]
        """
        units = []
        for unit in self.units:
            if unit.quoted:
                units.append(unit)
                continue
            slots = tuple(
                slot if slot.prefix or slot.fuzzy else Slot(slot.text, distance=auto_distance(slot.text))
                for slot in unit.slots
            )
            units.append(Unit(slots, unit.source, unit.quoted))
        if sum(slot.fuzzy for unit in units for slot in unit.slots) > MAX_FUZZY:
            return self
        return Query(self.text, tuple(units))


def parse_query(q: str, *, max_length: int = 500) -> Query:
    """Split `q` into units; raises only `BadQuery` (too long, too many units).

    - a bare word is a unit; if it tokenises to several tokens (`well-known`, `don't`)
      they form a phrase;
    - `"a quoted phrase"` is one unit (an unterminated quote runs to the end);
    - a `*` right after a word makes its last token a prefix (`bir*`, `"origin of spe*"`);
    - a `~` right after a word makes its last token fuzzy (`wort~`, `wort~1`, `"wort~ wort"`):
      an edit distance by its length, or the one given (at most MAX_DISTANCE); a prefix
      stays a prefix (`wor*~` = `wor*`);
    - case and accents are folded exactly as the index folds printed words.

    >>> [[s.text for s in u.slots] for u in parse_query('Wéll-known  "Bird in" hand*').units]
    [['well', 'known'], ['bird', 'in'], ['hand']]
    """
    if len(q) > max_length:
        raise BadQuery(f"q is {len(q)} characters long; the limit is {max_length}", parameter="q")
    units: list[Unit] = []
    seen: set[tuple[Slot, ...]] = set()
    for match in _PART.finditer(q.translate(_QUOTES)):
        quoted, bare = match.group(1), match.group(2)
        if bare is not None:
            slots = _slots(bare)
            source, is_quoted = bare, False
        else:
            slots = tuple(slot for word in (quoted or "").split() for slot in _slots(word))
            source, is_quoted = match.group(0), True
        if not slots:
            continue  # punctuation only, a lone `*` or `"`: nothing to look for
        if len(slots) > MAX_PHRASE_TOKENS:
            raise BadQuery(f"a phrase may hold at most {MAX_PHRASE_TOKENS} words", parameter="q")
        if slots in seen:
            continue  # `bird bird` asks nothing more than `bird`
        seen.add(slots)
        units.append(Unit(slots, source, is_quoted))
    if len(units) > MAX_UNITS:
        raise BadQuery(f"q holds {len(units)} words or phrases; the limit is {MAX_UNITS}", parameter="q")
    prefixes = sum(slot.prefix for unit in units for slot in unit.slots)
    if prefixes > MAX_PREFIXES:
        raise BadQuery(f"q holds {prefixes} prefixes (word*); the limit is {MAX_PREFIXES}", parameter="q")
    fuzzy = sum(slot.fuzzy for unit in units for slot in unit.slots)
    if fuzzy > MAX_FUZZY:
        raise BadQuery(f"q holds {fuzzy} fuzzy words (word~); the limit is {MAX_FUZZY}", parameter="q")
    return Query(q, tuple(units))


def _slots(word: str) -> tuple[Slot, ...]:
    """The slots of one whitespace-free word; a trailing `*` makes the last one a prefix, `~` fuzzy."""
    distance: int | None = None
    prefix = _PREFIX.search(word) is not None
    if (fuzzy := _FUZZY.search(word)) is not None:
        digits = fuzzy.group(1)
        distance = min(int(digits[:3]), MAX_DISTANCE) if digits else None
        prefix = prefix or "*" in word[fuzzy.start() :]  # `wor~*` is `wor*~`: the prefix wins
        word = word[: fuzzy.start()]
        prefix = prefix or _PREFIX.search(word) is not None
    parts = tokens(word)
    if not parts:
        return ()
    last = len(parts) - 1
    slots = [Slot(part, prefix and i == last) for i, part in enumerate(parts)]
    if fuzzy is not None and not prefix:
        slots[last] = Slot(parts[last], distance=auto_distance(parts[last]) if distance is None else distance)
    return tuple(slots)
