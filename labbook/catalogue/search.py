"""Catalogue search: the names people use, and the order results come in.

People search the way they speak — ``TEM``, ``液质``, ``岛津``, ``smdj``, ``gb 5009.5`` — which
is seldom the formal text of the catalogue. Two reviewable files next to the catalogue bridge
the gap: ``search_aliases.csv`` (a piece of formal text and the informal names that mean it) and
``makers.csv`` (every maker in Chinese and English, with other names it goes by). Chinese text
is also found by its pinyin, written in full or by initials.

Every query word must be found in an item. Each word is scored by where it is found, and an
item ranks by its worst word, then by the sum over its words, then by lab and code:

0. the whole code, standard number or an abbreviation/informal name of the item itself
1. a whole word of the name, the start of a code or standard number, a name's whole pinyin,
   an abbreviation of its category
2. the start of the name (or of its pinyin)
3. anywhere in the name
4. the category
5. the maker and the model
6. specifications, functions, sample requirements, a service's instruments

Abbreviations match whole tokens only (``TEM`` is not "sys*tem*"). Standard numbers and codes
are compared without case, full-width forms, spaces and punctuation (``ＧＢ５００９．５`` is
``GB 5009.5``), a trailing year (``-2016``) aside.

The ranking runs on an index held in memory. It is built once per catalogue change: every
committed change to labs, categories, instruments or services gives the one row of
``catalogue_version`` a new random token, and a process rebuilds its index when the token it
reads differs from the one its index was built for, so several server processes agree.
"""

from __future__ import annotations

import bisect
import csv
import re
import threading
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Insert, event, select
from sqlalchemy.orm import Session, selectinload

from labbook.catalogue.models import (
    CatalogueVersion,
    Category,
    Instrument,
    Lab,
    TestingService,
)
from labbook.core.engine import dialect_insert

DATA_DIR = Path(__file__).parent / "data"

#: Search words beyond this many are ignored: a sentence is not a search.
MAX_TERMS = 8

# -- normalisation ----------------------------------------------------------------------------

_CONTROL = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_YEAR_SUFFIX = re.compile(r"[-‐‑–—]\s*(?:19|20)\d\d$")
_NON_COMPACT = re.compile(r"[^0-9a-z.\u3400-\u9fff]+")
_STRAY_DOT = re.compile(r"(?<![0-9])\.|\.(?![0-9])")
_STANDARD_SPLIT = re.compile(r"\s+/\s+|[;；,，、]")
_STANDARD_BODY = re.compile(r"^[a-z/]+\s*")


def clean(text: str) -> str:
    """``text`` with control and other invisible characters as spaces, spaces collapsed."""
    return " ".join("".join(" " if unicodedata.category(ch) in _CONTROL else ch
                            for ch in text).split())


def fold(text: str) -> str:
    """Lower case, full-width forms as ordinary ones (NFKC), spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def compact(text: str) -> str:
    """A code or standard number as compared: folded, a trailing year dropped, then only
    letters, digits, CJK and the dots between digits (``GB/T 228.1-2021`` → ``gbt228.1``)."""
    folded = _YEAR_SUFFIX.sub("", fold(text))
    return _STRAY_DOT.sub("", _NON_COMPACT.sub("", folded))


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


def has_cjk(text: str) -> bool:
    return any(_is_cjk(ch) for ch in text)


def _word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


@lru_cache(maxsize=65536)
def pinyin_forms(text: str) -> tuple[str, ...]:
    """The pinyin of the Chinese in ``text``, in full and by initials (``扫描电镜`` →
    ``saomiaodianjing``, ``smdj``); nothing for text without Chinese."""
    hanzi = "".join(ch for ch in text if _is_cjk(ch))
    if not hanzi:
        return ()
    from pypinyin import Style, lazy_pinyin  # its dictionaries take a second and 50 MB to load

    full = "".join(lazy_pinyin(hanzi))
    initials = "".join(lazy_pinyin(hanzi, style=Style.FIRST_LETTER))
    return (full, initials) if len(hanzi) > 1 else (full,)


@lru_cache(maxsize=65536)
def pinyin_tails(text: str) -> tuple[str, ...]:
    """The pinyin of ``text`` from its second syllable on, from each later syllable: a word
    typed in pinyin may start anywhere in a name, but only at a syllable."""
    from pypinyin import lazy_pinyin

    syllables = lazy_pinyin("".join(ch for ch in text if _is_cjk(ch)))
    return tuple("".join(syllables[i:]) for i in range(1, len(syllables)))


# -- the data files ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Alias:
    contains: str          # folded formal text
    adds: tuple[str, ...]  # the informal names, as written in the file


@dataclass(frozen=True)
class Maker:
    manufacturer: str      # as the catalogue writes it
    name_zh: str
    name_en: str
    also_known_as: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return (self.manufacturer, self.name_zh, self.name_en, *self.also_known_as)


def _read_csv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(";") if part.strip())


@cache
def aliases() -> tuple[Alias, ...]:
    return tuple(Alias(fold(row["contains"]), _split(row["adds"]))
                 for row in _read_csv("search_aliases.csv"))


@cache
def makers() -> dict[str, Maker]:
    """Makers by their folded catalogue spelling."""
    return {fold(row["manufacturer"]): Maker(row["manufacturer"], row["name_zh"],
                                             row["name_en"], _split(row["also_known_as"]))
            for row in _read_csv("makers.csv")}


@cache
def abbreviations() -> frozenset[str]:
    """Informal names written as abbreviations (two capitals or more, e.g. ``TEM``,
    ``ICP-MS``, ``qPCR``): they match whole tokens only."""
    return frozenset(fold(name) for alias in aliases() for name in alias.adds
                     if name.isascii() and " " not in name
                     and sum(ch.isupper() for ch in name) >= 2)


def aliases_of(texts: Iterable[str]) -> list[str]:
    """The informal names of formal ``texts``, in the aliases file's order."""
    folded = " ".join(fold(text) for text in texts if text)
    found: list[str] = []
    for alias in aliases():
        if alias.contains in folded:
            found.extend(name for name in alias.adds if name not in found)
    return found


def maker_names(manufacturer: str) -> tuple[str, ...]:
    maker = makers().get(fold(manufacturer))
    return maker.names if maker else (manufacturer,)


# -- the stored search text (the search_text columns) -----------------------------------------


def build_search_text(parts: Iterable[str | None]) -> str:
    texts = [part.strip() for part in parts if part]
    return fold(" ".join([*texts, *aliases_of(texts)]))


def instrument_search_text(instrument: Instrument) -> str:
    category = instrument.category
    return build_search_text([
        instrument.code, instrument.name_zh, instrument.name_en, instrument.model,
        *maker_names(instrument.manufacturer), category.key, category.name_zh,
        category.name_en,
    ])


def service_search_text(service: TestingService) -> str:
    category = service.category
    return build_search_text([
        service.code, service.name_zh, service.name_en, service.standard,
        category.key, category.name_zh, category.name_en,
        *(name for instrument in service.instruments
          for name in (instrument.name_zh, instrument.name_en)),
    ])


# -- the index --------------------------------------------------------------------------------

EXACT, WORD, PREFIX, WORD_PREFIX, INNER = range(5)


@dataclass(frozen=True)
class Source:
    """One kind of text of the items, and the tier of a match by its quality (EXACT, WORD,
    PREFIX, WORD_PREFIX, INNER); None: that kind of match does not count."""

    name: str
    tiers: tuple[int | None, int | None, int | None, int | None, int | None]
    compact: bool = False     # values and words compared in their compact form
    pinyin: bool = False      # values are pinyin: only words typed in Latin letters look here


SOURCES = (
    Source("code", (0, None, 1, None, None), compact=True),
    Source("standard", (0, None, 1, None, None), compact=True),
    Source("alias", (0, 0, 2, 3, 3)),
    Source("alias_compact", (0, None, None, None, None), compact=True),
    Source("name", (0, 1, 2, 3, 3)),
    Source("name_pinyin", (1, None, 2, None, None), pinyin=True),
    Source("name_pinyin_tail", (3, None, 3, None, None), pinyin=True),
    Source("category_alias", (1, 4, 4, 4, 4)),
    Source("category", (1, 4, 4, 4, 4)),
    Source("category_pinyin", (4, None, 4, None, None), pinyin=True),
    Source("maker", (5, 5, 5, 5, 5)),
    Source("maker_pinyin", (5, None, 5, None, None), pinyin=True),
    Source("model", (5, 5, 5, 5, None)),
    Source("model_compact", (5, None, 5, None, None), compact=True),
    Source("detail", (6, 6, 6, 6, 6)),
)
_SOURCE_NAMES = tuple(source.name for source in SOURCES)
_WHOLE_QUERY_SOURCES = tuple(s for s in SOURCES if s.compact)

#: Separates values in a source's text; a query never holds it (``clean`` removes it).
SEPARATOR = "\x1f"


@dataclass(frozen=True)
class Item:
    """What the search knows of one instrument or service, besides its text."""

    kind: str              # "instrument" | "service"
    id: int
    code: str
    lab_id: int
    lab_code: str
    category_key: str
    status: str            # an instrument's status; a service's "active" or "inactive"


def _tier_at(text: str, position: int, length: int, start: int, end: int, source: Source,
             latin: bool) -> int | None:
    """The tier of a match of ``length`` characters at ``position`` of ``text``, inside the
    value that runs from ``start`` to ``end``."""
    after = position + length
    at_start, at_end = position == start, after == end
    if at_start and at_end:
        quality = EXACT
    elif source.compact:
        # "gb5009.5" is the start of "gb5009.5-…" but not of "gb5009.51"
        quality = PREFIX if at_start and not (text[after - 1].isdigit()
                                              and text[after].isdigit()) else INNER
    else:
        left = at_start or not _word_char(text[position - 1])
        right = at_end or not _word_char(text[after])
        if latin and left and right:
            quality = WORD
        elif at_start:
            quality = PREFIX
        elif latin and left:
            quality = WORD_PREFIX
        else:
            quality = INNER
    return source.tiers[quality]


class _SourceText:
    """All items' values of one source in one string, to be searched with ``str.find``; and
    each item's values, to look at a few items only."""

    def __init__(self, values: list[tuple[int, str]], item_count: int) -> None:
        parts: list[str] = []
        self.starts: list[int] = []
        self.items: list[int] = []
        self.by_item: list[list[str]] = [[] for _ in range(item_count)]
        offset = 1
        for item, value in values:
            self.starts.append(offset)
            self.items.append(item)
            self.by_item[item].append(value)
            parts.append(value)
            offset += len(value) + 1
        self.text = SEPARATOR + SEPARATOR.join(parts) + SEPARATOR
        self.item_text = [SEPARATOR.join(values) for values in self.by_item]

    def matches(self, term: str, source: Source) -> Iterator[tuple[int, int]]:
        """(item, tier) of every value of an item that holds ``term``."""
        text, starts, find = self.text, self.starts, self.text.find
        length, latin = len(term), not has_cjk(term)
        position = find(term)
        while position >= 0:
            value = bisect.bisect_right(starts, position) - 1
            end = text.index(SEPARATOR, position)
            tier = _tier_at(text, position, length, starts[value], end, source, latin)
            if tier is not None:
                yield self.items[value], tier
            position = find(term, end)

    def item_tier(self, item: int, term: str, source: Source) -> int | None:
        """The best tier of ``term`` among ``item``'s values."""
        if term not in self.item_text[item]:
            return None
        best = None
        length, latin = len(term), not has_cjk(term)
        for value in self.by_item[item]:
            text = SEPARATOR + value + SEPARATOR
            position = text.find(term)
            while position >= 0:
                tier = _tier_at(text, position, length, 1, len(text) - 1, source, latin)
                if tier is not None and (best is None or tier < best):
                    best = tier
                position = text.find(term, position + 1)
        return best


#: The best tier of a match found through an English word's stem (``diffraction`` finding
#: "Diffractometer"): as good as a match inside a name.
STEM_TIER = 3
_ENGLISH_ENDINGS = ("ometry", "ometer", "oscopy", "ography", "ograph", "ation", "ing", "ion",
                    "ers", "er", "es", "s", "y", "e")


def english_stems(word: str) -> list[str]:
    """Shorter forms of an English word to look for at the start of words: ``diffraction`` →
    ``diffract``, ``microscopy`` → ``microscop``, ``testers`` → ``test``; none for short
    words or words that are not plain letters."""
    if len(word) < 5 or not word.isalpha():
        return []
    stems = []
    for ending in _ENGLISH_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            stems.append(word[:-len(ending)])
            break
    return stems


#: Below this many items left, a further search word is looked for in their own values
#: rather than in the whole catalogue's text.
FEW_ITEMS = 200


@dataclass
class SearchIndex:
    """The ranking index of one kind of item (instruments or services)."""

    items: list[Item]
    texts: dict[str, _SourceText] = field(default_factory=dict)

    def _words(self, term: str) -> Iterator[tuple[Source, str, bool, int]]:
        """The sources to look in for ``term``, the form to look for, whether it is an
        abbreviation (whole tokens only), and the best tier a match of that form may have (an
        English word's stem matches less well than the word)."""
        folded = fold(term)
        squeezed = compact(term)
        latin = not has_cjk(folded)
        abbreviation = folded in abbreviations()
        forms = [(folded, 0)]
        if latin and not abbreviation:
            if len(folded) > 3 and folded.endswith("s") and folded.isalpha():
                forms.append((folded[:-1], 0))  # a plural is the word itself
            forms += [(stem, STEM_TIER) for stem in english_stems(folded)]
        for source in SOURCES:
            if source.pinyin and (not latin or abbreviation or not folded.isalpha()):
                continue
            if source.compact:
                if len(squeezed) >= 2:
                    yield source, squeezed, abbreviation, 0
            else:
                for form, at_best in forms:
                    yield source, form, abbreviation, at_best

    @staticmethod
    def _counts(source: Source, word: str, abbreviation: bool, tier: int) -> bool:
        if abbreviation and tier >= 2 and not source.compact:
            return False  # an abbreviation is a whole token, never part of a word
        return not (source.pinyin and tier == 2 and len(word) < 3)  # too little to go on

    def match_term(self, term: str, among: Iterable[int] | None = None) -> dict[int, int]:
        """Item position → best tier, for one search word; only ``among`` these items, if
        given. Chinese written without a space between two words (``岛津液相``) that is found
        nowhere as a whole is looked for as its two words."""
        best = self._match_word(term, among)
        if best or len(term) < 4 or not all(_is_cjk(ch) for ch in term):
            return best
        candidates = list(among) if among is not None else None
        splits = []
        for cut in range(2, len(term) - 1):
            left = self._match_word(term[:cut], candidates)
            right = self._match_word(term[cut:], list(left)) if left else {}
            both = {item: max(left[item], tier) for item, tier in right.items()}
            if both:
                splits.append((sorted(both.values()), both))
        return min(splits, key=lambda split: split[0])[1] if splits else {}

    def _match_word(self, term: str, among: Iterable[int] | None) -> dict[int, int]:
        best: dict[int, int] = {}
        for source, word, abbreviation, at_best in self._words(term):
            if source.pinyin and at_best:
                continue
            text = self.texts[source.name]
            if among is None:
                found: Iterable[tuple[int, int | None]] = text.matches(word, source)
            else:
                found = ((item, text.item_tier(item, word, source)) for item in among)
            for item, tier in found:
                if tier is None or not self._counts(source, word, abbreviation, tier):
                    continue
                tier = max(tier, at_best)
                if tier < best.get(item, 99):
                    best[item] = tier
        return best

    def match_whole(self, query: str) -> dict[int, int]:
        """Item position → tier, for the query taken as one code or standard number."""
        squeezed = compact(query)
        best: dict[int, int] = {}
        if len(squeezed) < 2:
            return best
        for source in _WHOLE_QUERY_SOURCES:
            for item, tier in self.texts[source.name].matches(squeezed, source):
                if tier < best.get(item, 99):
                    best[item] = tier
        return best

    def rank(self, query: str) -> list[tuple[Item, tuple[int, int]]]:
        """The items that match ``query``, best first, with their score (worst tier, sum of
        tiers); every item, in lab and code order, for an empty query."""
        terms = query_terms(query)
        if not terms:
            return [(item, (0, 0)) for item in self.items]
        whole = self.match_whole(query) if len(terms) > 1 else {}
        scores: dict[int, tuple[int, int]] = {}
        if not whole:  # a code or standard number written in parts is that, not its parts
            # the longest word first: it is likely the rarest, and the others are then looked
            # for among the items it found
            for number, term in enumerate(sorted(terms, key=len, reverse=True)):
                if number == 0:
                    scores = {item: (tier, tier) for item, tier in self.match_term(term).items()}
                    continue
                among = list(scores) if len(scores) <= FEW_ITEMS else None
                found = self.match_term(term, among)
                scores = {item: (max(worst, found[item]), total + found[item])
                          for item, (worst, total) in scores.items() if item in found}
                if not scores:
                    break
        for item, tier in whole.items():
            if (tier, tier) < scores.get(item, (99, 99)):
                scores[item] = (tier, tier)
        ranked = sorted(scores.items(), key=lambda pair: (pair[1], pair[0]))
        return [(self.items[position], score) for position, score in ranked]


def query_terms(query: str) -> list[str]:
    return clean(query).split()[:MAX_TERMS]


def _sources_of_instrument(instrument: Instrument) -> dict[str, list[str]]:
    names = [instrument.name_zh, instrument.name_en]
    category = instrument.category
    category_names = [category.name_zh, category.name_en]
    makers_ = maker_names(instrument.manufacturer)
    return {
        "code": [instrument.code],
        "standard": [],
        "name": names,
        "alias": aliases_of(names),
        "category": [category.key, *category_names],
        "category_alias": aliases_of(category_names),
        "maker": list(makers_),
        "model": [instrument.model],
        "detail": [instrument.specs_zh, instrument.functions_zh],
    }


def _sources_of_service(service: TestingService) -> dict[str, list[str]]:
    names = [service.name_zh, service.name_en]
    category = service.category
    category_names = [category.name_zh, category.name_en]
    instrument_names = [name for instrument in service.instruments
                        for name in (instrument.name_zh, instrument.name_en)]
    standards = [part for part in _STANDARD_SPLIT.split(service.standard) if part.strip()]
    return {
        "code": [service.code],
        "standard": [*standards, *(_STANDARD_BODY.sub("", fold(part)) for part in standards)],
        "name": names,
        "alias": aliases_of(names),
        "category": [category.key, *category_names],
        "category_alias": aliases_of(category_names),
        "maker": [],
        "model": [],
        "detail": [service.sample_requirements_zh, service.sample_requirements_en,
                   *instrument_names, *aliases_of(instrument_names)],
    }


def _values_by_source(sources: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each source's values in the form they are compared in, pinyin and compact forms
    derived from their source."""
    def folded(values: Iterable[str]) -> list[str]:
        return [value for value in dict.fromkeys(fold(clean(v)) for v in values if v) if value]

    def compacted(values: Iterable[str]) -> list[str]:
        return [value for value in dict.fromkeys(compact(v) for v in values if v) if value]

    def pinyin(values: Iterable[str]) -> list[str]:
        return list(dict.fromkeys(form for v in values for form in pinyin_forms(v)))

    names_and_aliases = [*sources["name"], *sources["alias"]]
    return {
        "code": compacted(sources["code"]),
        "standard": compacted(sources["standard"]),
        "alias": folded(sources["alias"]),
        "alias_compact": compacted(sources["alias"]),
        "name": folded(sources["name"]),
        "name_pinyin": pinyin(names_and_aliases),
        "name_pinyin_tail": list(dict.fromkeys(
            tail for v in names_and_aliases for tail in pinyin_tails(v))),
        "category_alias": folded(sources["category_alias"]),
        "category": folded(sources["category"]),
        "category_pinyin": pinyin([*sources["category"], *sources["category_alias"]]),
        "maker": folded(sources["maker"]),
        "maker_pinyin": pinyin(sources["maker"]),
        "model": folded(sources["model"]),
        "model_compact": compacted(sources["model"]),
        "detail": folded(sources["detail"]),
    }


def build_index(rows: Sequence[tuple[Item, dict[str, list[str]]]]) -> SearchIndex:
    """The index of ``rows`` (an item and its texts by source), kept in lab and code order."""
    ordered = sorted(rows, key=lambda row: (row[0].lab_code, row[0].code))
    collected: dict[str, list[tuple[int, str]]] = {name: [] for name in _SOURCE_NAMES}
    for position, (_item, sources) in enumerate(ordered):
        for name, values in _values_by_source(sources).items():
            collected[name].extend((position, value) for value in values)
    return SearchIndex(items=[item for item, _sources in ordered],
                       texts={name: _SourceText(values, len(ordered))
                              for name, values in collected.items()})


@dataclass(frozen=True)
class CatalogueIndex:
    instruments: SearchIndex
    services: SearchIndex


def load_index(session: Session) -> CatalogueIndex:
    """Build the index from the database (all instruments and services)."""
    instruments = session.scalars(select(Instrument).options(
        selectinload(Instrument.lab), selectinload(Instrument.category))).all()
    services = session.scalars(select(TestingService).options(
        selectinload(TestingService.lab), selectinload(TestingService.category),
        selectinload(TestingService.instruments))).all()
    return CatalogueIndex(
        instruments=build_index([
            (Item("instrument", i.id, i.code, i.lab_id, i.lab.code, i.category.key,
                  i.status.value), _sources_of_instrument(i)) for i in instruments]),
        services=build_index([
            (Item("service", s.id, s.code, s.lab_id, s.lab.code, s.category.key,
                  "active" if s.is_active else "inactive"), _sources_of_service(s))
            for s in services]),
    )


_cache_lock = threading.Lock()
_cached: dict[str, Any] = {"token": None, "index": None}


def catalogue_token(session: Session) -> str | None:
    return session.scalar(select(CatalogueVersion.token).where(CatalogueVersion.id == 1))


def current_index(session: Session) -> CatalogueIndex:
    """The index of the catalogue as ``session`` sees it: the one built for the database's
    current token, built now if this process has none for it. Without a token (a database
    whose version row was removed) it is built afresh each time and not kept."""
    token = catalogue_token(session)
    if token is not None:
        with _cache_lock:
            if _cached["token"] == token:
                return _cached["index"]
    index = load_index(session)
    if token is not None:
        with _cache_lock:
            _cached.update(token=token, index=index)
    return index


# -- noticing catalogue changes ---------------------------------------------------------------

_CATALOGUE_MODELS = (Lab, Category, Instrument, TestingService)
_CHANGED = "labbook.catalogue_changed"


def _pending_catalogue_change(session: Session) -> bool:
    if any(isinstance(obj, _CATALOGUE_MODELS) for obj in (*session.new, *session.deleted)):
        return True
    return any(isinstance(obj, _CATALOGUE_MODELS) and session.is_modified(obj)
               for obj in session.dirty)


@event.listens_for(Session, "before_flush")
def _note_catalogue_change(session: Session, _context: Any, _instances: Any) -> None:
    if not session.info.get(_CHANGED) and _pending_catalogue_change(session):
        session.info[_CHANGED] = True


@event.listens_for(Session, "before_commit")
def _renew_catalogue_token(session: Session) -> None:
    """A commit that changes the catalogue gives it a new token, in the same transaction, as
    the last thing before the commit (so the version row is held only for that moment)."""
    if session.info.pop(_CHANGED, False) or _pending_catalogue_change(session):
        session.flush()
        session.info.pop(_CHANGED, None)
        session.execute(_upsert_token(session, uuid.uuid4().hex))


def _upsert_token(session: Session, token: str) -> Insert:
    statement = dialect_insert(session)(CatalogueVersion).values(id=1, token=token)
    return statement.on_conflict_do_update(index_elements=[CatalogueVersion.id],
                                           set_={"token": token})


@event.listens_for(Session, "after_rollback")
def _forget_catalogue_change(session: Session) -> None:
    session.info.pop(_CHANGED, None)
