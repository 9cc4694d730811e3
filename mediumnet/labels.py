"""The five mediums and the tables that map a source record to one of them.

A record from a collection API carries two pieces of evidence: the source's own category
(Artsy ``category``, Met ``classification``, AIC ``artwork_type_title``) and a free-text
medium ("Etching and drypoint on laid paper"). :func:`map_record` combines them through two
tables kept as data:

- :data:`CATEGORY_TABLES` says, per source, what a category means: a medium outright
  (``Print`` → engraving), a family whose medium the text refines (a work on paper can be a
  drawing or a watercolour), an open category where only a clear text decides (Artsy
  ``Mixed Media``, the Met's many empty classifications), or out of scope (sculpture, design,
  video, …).
- :data:`TEXT_RULES` are the technique words of each medium, matched as whole words in the
  normalised text.

Both tables (and :data:`NOT_ONE_MEDIUM`, :data:`LABEL_ALIASES`) are read at import from
``mediumnet/labels_tables.json``, where each carries a ``why`` that says what it means; the
rules that use them, and the decisions below, stay in this module.

The words are English, as the collection APIs write, and French, German, Dutch, Italian and
Spanish, as a European collection's own export does ("Huile sur toile", "Kaltnadelradierung",
"ets en droge naald", "Penna e inchiostro", "Acuarela sobre papel"); German compounds are
matched by their technique ("Farbholzschnitt", "Federzeichnung").

Every outcome comes with a reason, so that each kept or dropped record can be explained and
the harvest report can count drops by reason.

Documented decisions for ambiguous texts
----------------------------------------
- A watercolour or gouache with drawing materials ("Watercolor and graphite on wove paper",
  "Pen and ink and wash with gouache") is **gouache_watercolor**: the colour washes are the
  medium, the underdrawing is secondary.
- A print that was coloured by hand ("Etching with hand colouring", "Lithograph with
  watercolor") is **engraving**: the printed line is the medium.
- Oil or acrylic with drawing materials ("Oil and graphite on canvas") is **painting**, and
  oil with gouache ("Oil and gouache on board") is painting too: oil dominates the surface.
- Pastel is **drawing** (dry sticks, as in the Met's department of drawings).
- Ink wash, bistre and sepia washes are **drawing** (monochrome ink), not watercolour.
- Ink or colour in an East Asian painting format (hanging scroll, handscroll, folding screen,
  album leaf: "Hanging scroll; ink and color on silk") is **painting**: the Met and the Art
  Institute classify these as paintings. The format only outweighs drawing materials; with a
  print, photograph, paint or watercolour word the text decides as it would without it.
- Monotype and monoprint are **engraving**: they are made on a plate and pulled on a press.
- Photogravure is **photography**: a photographic image, whatever its ink process, and the
  Met and AIC keep photogravures among photographs.
- Inkjet and archival pigment prints are **photography** when the category is open: in
  collections these are almost always photographs. Under a ``Print`` category they stay
  engraving, since the category is stronger evidence than the word "print".
- Collage, assemblage and "mixed media" name no single medium: **dropped** unless the category
  fixes the medium (an Artsy ``Painting`` in "Oil and collage on canvas" is a painting).
- Prints and photographs mixed with paint on an open category ("Screenprint and acrylic on
  canvas" in Artsy ``Mixed Media``) are **dropped** as several mediums.
- A person's label for one work (a CSV row, a filled sheet, a folder's name) is read by the
  same decisions (:func:`medium_of_label`): "Watercolor over graphite" and "pen and
  watercolour" are gouache_watercolor, "Lithograph with watercolor" engraving. It names two
  mediums, and labels nothing, when two of its parts are each a medium's name ("prints and
  drawings", "Paintings & watercolours": a folder of both) or when it joins two ways of making
  the image that no decision above settles (painting with a print or a photograph, a print
  with a photograph).
"""

from __future__ import annotations

import contextlib
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from mediumnet.errors import LabelError

MEDIUMS: tuple[str, ...] = (
    "painting",
    "engraving",
    "drawing",
    "gouache_watercolor",
    "photography",
)
"""The five mediums, in the fixed order of every model's output."""

SOURCES: tuple[str, ...] = ("artsy", "met", "artic")
"""The collection APIs whose categories :func:`map_record` knows."""

UNLABELLED = ""
"""The label of a work kept without a medium (``harvest --keep-unlabelled``): its record
named none that maps. Such works stay out of every split and every training; ``mediumnet
classify`` suggests a medium for them."""

# The data file of TEXT_RULES, NOT_ONE_MEDIUM, CATEGORY_TABLES and LABEL_ALIASES; each table
# there carries a "why" that says what it means.
_TABLES_PATH = Path(__file__).with_name("labels_tables.json")

# Family precedence when the text names several families (see the module docstring).
_PRECEDENCE: tuple[str, ...] = ("photography", "engraving", "painting", "gouache_watercolor",
                                "drawing")

CategoryRule = Literal[
    "painting", "engraving", "drawing", "gouache_watercolor", "photography", "paper", "open",
    "drop",
]


@dataclass(frozen=True)
class CategoryEntry:
    """What one source category means.

    Attributes
    ----------
    rule : str
        ``"painting"``, ``"engraving"``, ``"photography"``: the category fixes the medium
        (painting may still become gouache_watercolor when the text names only
        watercolour/gouache). ``"paper"``: a work on paper whose medium the text decides,
        drawing when it is silent. ``"open"``: only a text that clearly names one medium
        decides. ``"drop"``: out of scope.
    note : str
        Why (used in the reason of dropped records).
    """

    rule: CategoryRule
    note: str = ""


def _read_tables(path: Path = _TABLES_PATH) -> dict[str, Any]:
    """Read the label tables from their JSON file (stdlib only: this module stays light)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # pragma: no cover - the file ships with the package
        raise LabelError(f"cannot read the label tables {path}: {exc}") from None


def _category_table(categories: dict[str, str], drops: dict[str, CategoryEntry]
                    ) -> dict[str, CategoryEntry]:
    """Turn one source's ``{"category": "rule" or "drop: KEY"}`` into CategoryEntry objects."""
    table: dict[str, CategoryEntry] = {}
    for category, value in categories.items():
        rule, _, key = (part.strip() for part in value.partition(":"))
        if rule == "drop" and key in drops:
            table[category] = drops[key]
        elif rule in get_args(CategoryRule) and rule != "drop" and not key:
            table[category] = CategoryEntry(rule)
        else:  # pragma: no cover - only a broken data file gets here
            raise LabelError(f"{_TABLES_PATH.name}: category {category!r} has an unknown rule "
                             f"{value!r}")
    return table


_TABLES = _read_tables()
_DROPS = {key: CategoryEntry("drop", note)
          for key, note in _TABLES["drop_notes"]["notes"].items()}

# Technique words of each medium family, matched as whole words in normalised (lower-case,
# accent-free) text. Order inside a family does not matter; the family precedence is applied in
# ``_decide_from_text``.
TEXT_RULES: dict[str, tuple[str, ...]] = {
    medium: tuple(words) for medium, words in _TABLES["text_rules"]["families"].items()
}
"""Technique words per medium family (regular expressions matched as whole words)."""

NOT_ONE_MEDIUM: tuple[str, ...] = tuple(_TABLES["not_one_medium"]["words"])
"""Words that, in an open category, mean the text does not name one two-dimensional medium."""

PAINTING_FORMATS: tuple[str, ...] = tuple(_TABLES["painting_formats"]["words"])
"""East Asian painting formats: with drawing materials alone, the text names a painting."""

CATEGORY_TABLES: dict[str, dict[str, CategoryEntry]] = {
    source: _category_table(table["categories"], _DROPS)
    for source, table in _TABLES["category_tables"]["sources"].items()
}
"""Per source: normalised category → what it means. Unknown categories are dropped.

Artsy ``category`` (all 20 values the API documents), the Met ``classification`` (the first
part before "|"; often empty), AIC ``artwork_type_title``.
"""


def repair_text(text: str | None) -> str:
    """Return ``text`` with UTF-8 mojibake repaired ("DÃ©jeuner" → "Déjeuner"), stripped.

    Some Artsy records carry UTF-8 that was decoded as Windows-1252 once too often.
    """
    if not text:
        return ""
    if "Ã" in text or "Â" in text:
        for codec in ("cp1252", "latin-1"):
            with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
                text = text.encode(codec).decode("utf-8")
                break
    return text.strip()


def _normalise(text: str | None) -> str:
    """Lower-case, accent-free, single-spaced text (mojibake repaired first)."""
    text = repair_text(text)
    if not text:
        return ""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", text.lower()).strip()


def _compile(words: tuple[str, ...]) -> re.Pattern[str]:
    """Match any of ``words`` as a whole word, plural allowed ("etchings", "washes").

    A hyphen counts as a word boundary, so "line-engraving" and "photo-etching" match too.
    """
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(words) + r")(?:e?s)?(?![a-z0-9])")


_FAMILY_PATTERNS: dict[str, re.Pattern[str]] = {m: _compile(w) for m, w in TEXT_RULES.items()}
_NOT_ONE_PATTERN = _compile(NOT_ONE_MEDIUM)
_FORMAT_PATTERN = _compile(PAINTING_FORMATS)
# "print" alone: a print of unknown technique (engraving family) unless a photographic word
# is present ("Gelatin silver print").
_BARE_PRINT = _compile((r"prints?",))


def text_families(medium_text: str | None) -> dict[str, str]:
    """Return the medium families the free text names, each with the first word that matched.

    Parameters
    ----------
    medium_text : str or None
        Free-text medium, e.g. ``"Etching and drypoint on laid paper"``.

    Returns
    -------
    dict
        Medium → the matched word, e.g. ``{"engraving": "etching"}``; empty when the text names
        no technique.
    """
    text = _normalise(medium_text)
    found: dict[str, str] = {}
    for medium, pattern in _FAMILY_PATTERNS.items():
        match = pattern.search(text)
        if match:
            found[medium] = match.group(0)
    if "photography" in found:
        # "Gelatin silver print" is a photograph, not a print; "photogravure" likewise.
        found.pop("engraving", None)
    elif "engraving" not in found and (bare := _BARE_PRINT.search(text)):
        found["engraving"] = bare.group(0)
    if "painting" in found and found["painting"] == "paint" and "gouache_watercolor" in found:
        # "watercolour paint" / "gouache paint" name water-based paint, not oil.
        found.pop("painting")
    if set(found) <= {"drawing"} and (form := _FORMAT_PATTERN.search(text)):
        # "Hanging scroll; ink and color on silk": the format makes the ink a painting.
        found["painting"] = form.group(0)
    return found


def _decide_from_text(found: dict[str, str]) -> tuple[str, str] | None:
    """Pick the medium from the families the text names, by the documented precedence."""
    if not found:
        return None
    for medium in _PRECEDENCE:
        if medium in found:
            return medium, found[medium]
    return None  # pragma: no cover - every family is in the precedence


def map_record(source: str, category: str | None, medium_text: str | None
               ) -> tuple[str | None, str]:
    """Map a source record to one of :data:`MEDIUMS`, or drop it, and say why.

    Parameters
    ----------
    source : {"artsy", "met", "artic"}
        The collection the record comes from.
    category : str or None
        The source's own category: Artsy ``category``, Met ``classification`` (compound values
        such as ``"Prints|Ephemera"`` use their first part), AIC ``artwork_type_title``.
    medium_text : str or None
        The free-text medium (Artsy ``medium``, Met ``medium``, AIC ``medium_display``).

    Returns
    -------
    medium : str or None
        One of :data:`MEDIUMS`, or None when the record is dropped.
    reason : str
        Why, in one short line (e.g. ``"category Print"``,
        ``"category Painting; text names 'gouache'"``, ``"category Sculpture: not a
        two-dimensional medium"``).

    Raises
    ------
    LabelError
        If ``source`` is not one of :data:`SOURCES`.
    """
    if source not in CATEGORY_TABLES:
        raise LabelError(
            f"unknown source {source!r}: choose one of {', '.join(SOURCES)}"
        )
    raw_category = (category or "").split("|")[0].strip()
    key = _normalise(raw_category)
    entry = CATEGORY_TABLES[source].get(key)
    shown = raw_category or "(empty)"
    if entry is None:
        return None, f"category {shown}: not in the {source} table"
    if entry.rule == "drop":
        return None, f"category {shown}: {entry.note}"

    found = text_families(medium_text)
    decided = _decide_from_text(found)

    if entry.rule == "painting":
        if set(found) & {"gouache_watercolor"} and not set(found) & {"painting", "engraving",
                                                                    "photography"}:
            return "gouache_watercolor", (
                f"category {shown}; text names {found['gouache_watercolor']!r}"
            )
        return "painting", f"category {shown}"
    if entry.rule in ("engraving", "photography", "drawing", "gouache_watercolor"):
        return entry.rule, f"category {shown}"

    if entry.rule == "paper":
        not_one = _NOT_ONE_PATTERN.search(_normalise(medium_text))
        if not_one and decided is None:
            return None, f"category {shown}; text names {not_one.group(0)!r}, no one medium"
        if decided is None:
            return "drawing", f"category {shown}; text names no technique, drawing by default"
        medium, word = decided
        return medium, f"category {shown}; text names {word!r}"

    # Open category: only a clear text decides.
    text = _normalise(medium_text)
    if not text:
        return None, f"category {shown}; no medium text"
    not_one = _NOT_ONE_PATTERN.search(text)
    if not_one:
        return None, f"category {shown}; text names {not_one.group(0)!r}, no one medium"
    if decided is None:
        return None, f"category {shown}; text names no known technique"
    if {"painting", "engraving"} <= set(found) or {"painting", "photography"} <= set(found):
        names = ", ".join(sorted(found))
        return None, f"category {shown}; text names several mediums ({names})"
    medium, word = decided
    return medium, f"category {shown}; text names {word!r}"


def is_excluded_category(source: str, category: str | None) -> bool:
    """Return whether ``source``'s table drops ``category`` outright (sculpture, video …).

    Such works are never kept, not even unlabelled: they are not two-dimensional works, or
    not one work. A category the table does not know is not excluded (its text may yet be
    judged by a curator).
    """
    table = CATEGORY_TABLES.get(source, {})
    entry = table.get(_normalise((category or "").split("|")[0].strip()))
    return entry is not None and entry.rule == "drop"


def medium_index(medium: str) -> int:
    """Return the position of ``medium`` in :data:`MEDIUMS` (the model's output index).

    Raises
    ------
    LabelError
        If ``medium`` is not one of :data:`MEDIUMS`.
    """
    try:
        return MEDIUMS.index(medium)
    except ValueError:
        raise LabelError(
            f"unknown medium {medium!r}: choose one of {', '.join(MEDIUMS)}"
        ) from None


LABEL_ALIASES: dict[str, str] = {
    **{m: m for m in MEDIUMS},
    **_TABLES["label_aliases"]["aliases"],
}
"""Names a person may give a medium (folder names, CSV labels) → the medium."""


_LABEL_PARTS = re.compile(r"\s*(?:[,;&+/]|\b(?:and|et|und|en|e|y)\b)\s*")
"""Where a label joins things ("pen and watercolour", "estampes et dessins", "Druckgraphik und
Zeichnungen"), each read on its own."""


def mediums_named(name: str | None) -> tuple[str, ...]:
    """Return every medium a person's label names, in :data:`MEDIUMS` order.

    A medium counts when the label names it or a technique of it.

    A label is first read whole as a medium's name (``"Watercolour"``, ``"prints"``,
    ``"gouache_watercolor"``); otherwise each word that is a medium's name counts, and so does
    each technique word of :data:`TEXT_RULES` (``"woodcut"``, ``"oil on canvas"``,
    ``"charcoal"``, ``"gelatin silver print"``). A label that names something other than one
    two-dimensional medium (``"collage"``, ``"sculpture"``, see :data:`NOT_ONE_MEDIUM`) names
    none.

    Examples
    --------
    >>> mediums_named("Etching and aquatint")
    ('engraving',)
    >>> mediums_named("pen and watercolour")
    ('drawing', 'gouache_watercolor')
    >>> mediums_named("sculpture")
    ()
    """
    text = _normalise(name)
    whole = LABEL_ALIASES.get(text.replace(" ", "_"))
    if whole is not None:
        return (whole,)
    text = text.replace("_", " ")
    if not text or _NOT_ONE_PATTERN.search(text):
        return ()
    named: set[str] = set()
    for part in _LABEL_PARTS.split(text):  # "prints and photographs": two things, each read
        named |= set(text_families(part))  # "print" is read there, a photograph's kept apart
        named |= {LABEL_ALIASES[w] for w in re.findall(r"[a-z-]+", part)
                  if w in LABEL_ALIASES and not _BARE_PRINT.fullmatch(w)}
    return tuple(m for m in MEDIUMS if m in named)


_NEVER_ONE_WORK: tuple[frozenset[str], ...] = (
    frozenset({"painting", "engraving"}), frozenset({"painting", "photography"}),
    frozenset({"engraving", "photography"}))
"""Mediums a label cannot join into one: each is a whole way of making the image, and no
decision of this module says which of the two a work made with both is."""


def medium_of_label(name: str | None) -> tuple[str | None, tuple[str, ...]]:
    """Return the one medium a person's label gives a work, and every medium it names.

    A label naming one medium (:func:`mediums_named`) gives that one. A label naming several
    is read as a museum's medium text is, by the decisions of this module: the colour washes
    of "Watercolor over graphite" or "pen and watercolour" are the medium
    (gouache_watercolor), the printed line of "Etching with watercolour" is (engraving), the
    oil of "Oil and graphite" is (painting). It gives none when two of its parts are each a
    medium's own name ("prints and drawings": works of both kinds) or when it joins two ways
    of making the image that no decision settles (:data:`_NEVER_ONE_WORK`: "Screenprint and
    acrylic").

    Returns
    -------
    medium : str or None
        The medium, or None when the label names none or cannot be one.
    named : tuple of str
        Every medium the label names, in :data:`MEDIUMS` order (to say which, when refused).

    Examples
    --------
    >>> medium_of_label("Watercolor over graphite")
    ('gouache_watercolor', ('drawing', 'gouache_watercolor'))
    >>> medium_of_label("prints and drawings")
    (None, ('engraving', 'drawing'))
    """
    named = mediums_named(name)
    if len(named) <= 1:
        return (named[0] if named else None), named
    text = _normalise(name).replace("_", " ")
    kinds = {LABEL_ALIASES.get(part.replace(" ", "_")) for part in _LABEL_PARTS.split(text)}
    if len(kinds - {None}) > 1 or any(pair <= set(named) for pair in _NEVER_ONE_WORK):
        return None, named
    return next(m for m in _PRECEDENCE if m in named), named


def label_from_name(name: str | None) -> str | None:
    """Return the medium a folder name or CSV label means, or None if it names none or two.

    See :func:`mediums_named` and :func:`medium_of_label` for what a label may say.

    Examples
    --------
    >>> label_from_name("Watercolour")
    'gouache_watercolor'
    >>> label_from_name("Japanese woodblock prints")
    'engraving'
    >>> label_from_name("sculpture") is None
    True
    >>> label_from_name("pen and watercolour")
    'gouache_watercolor'
    >>> label_from_name("prints and drawings") is None
    True
    """
    return medium_of_label(name)[0]
