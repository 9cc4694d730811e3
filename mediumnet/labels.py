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
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

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

# --------------------------------------------------------------------------------------------
# Technique words of each medium family, matched as whole words in normalised (lower-case,
# accent-free) text. Order inside a family does not matter; the family precedence is applied in
# ``_decide_from_text``.
# --------------------------------------------------------------------------------------------
TEXT_RULES: dict[str, tuple[str, ...]] = {
    "photography": (
        r"photograph\w*",
        r"photogravure",
        r"gelatin silver",
        r"gelatine silver",
        r"silver gelatin",
        r"albumen",
        r"salted paper",
        r"salt print",
        r"platinum print",
        r"palladium print",
        r"platinum",
        r"palladium",
        r"cyanotype",
        r"daguerreotype",
        r"ambrotype",
        r"tintype",
        r"ferrotype",
        r"calotype",
        r"collodion",
        r"chromogenic",
        r"c-print",
        r"dye transfer",
        r"dye imbibition",
        r"silver dye bleach",
        r"cibachrome",
        r"ilfochrome",
        r"polaroid",
        r"instant print",
        r"carbon print",
        r"gum bichromate",
        r"inkjet print",
        r"pigment print",
        r"archival pigment",
        r"digital c-print",
        r"film negative",
        r"glass negative",
    ),
    "engraving": (
        r"engraving",
        r"engraved",
        r"etching",
        r"etched",
        r"drypoint",
        r"aquatint",
        r"mezzotint",
        r"soft-ground",
        r"softground",
        r"stipple engraving",
        r"intaglio",
        r"woodcut",
        r"woodblock print",
        r"woodblock",
        r"wood engraving",
        r"wood-engraving",
        r"linocut",
        r"linoleum cut",
        r"lino cut",
        r"lithograph\w*",
        r"chromolithograph\w*",
        r"offset lithograph\w*",
        r"screenprint\w*",
        r"screen print\w*",
        r"silkscreen\w*",
        r"serigraph\w*",
        r"monotype",
        r"monoprint",
        r"relief print",
        r"collagraph",
        r"letterpress",
        r"photo-etching",
        r"heliogravure",
        r"chine colle",
        r"burin",
        r"collotype",
        r"pochoir",
        r"stencil",
        r"photolithograph\w*",
        r"relief print\w*",
        r"blind embossing",
        r"embossing",
    ),
    "gouache_watercolor": (
        r"watercolou?rs?",
        r"water colou?rs?",
        r"water-colou?rs?",
        r"aquarelle",
        r"gouache",
        r"bodycolou?r",
        r"body colou?r",
    ),
    "painting": (
        r"oil",
        r"oils",
        r"oil paint",
        r"oil on \w+",
        r"acrylics?(?! glass| sheet| varnish| box)",
        r"tempera",
        r"egg tempera",
        r"encaustic",
        r"distemper",
        r"casein",
        r"alkyd",
        r"fresco",
        r"enamel paint",
        r"household paint",
        r"spray paint",
        r"paint",
        r"vinyl paint",
        r"oil stick",
    ),
    "drawing": (
        r"graphite",
        r"pencil",
        r"pencils",
        r"charcoal",
        r"chalk",
        r"chalks",
        r"crayon",
        r"crayons",
        r"pastel",
        r"pastels",
        r"conte",
        r"conte crayon",
        r"sanguine",
        r"silverpoint",
        r"metalpoint",
        r"leadpoint",
        r"pen",
        r"ink",
        r"inks",
        r"india ink",
        r"bistre",
        r"sepia",
        r"wash",
        r"marker",
        r"felt-tip",
        r"felt tip",
        r"ballpoint",
        r"stylus",
    ),
}
"""Technique words per medium family (regular expressions matched as whole words)."""

NOT_ONE_MEDIUM: tuple[str, ...] = (
    r"collage",
    r"assemblage",
    r"mixed media",
    r"mixed-media",
    r"found objects?",
    r"sculpture",
    r"installation",
    r"video",
    r"bronze",
    r"marble",
    r"ceramic",
    r"porcelain",
    r"terracotta",
    r"plaster",
    r"resin",
    r"neon",
    r"embroider\w*",
    r"tapestry",
    r"steel",
    r"perspex",
    r"plexiglas",
    r"plastic",
    r"formaldehyde",
    r"on \w* ?base",
    r"on \w* ?stand",
)
"""Words that, in an open category, mean the text does not name one two-dimensional medium."""

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


_DROP_3D = CategoryEntry("drop", "not a two-dimensional medium")
_DROP_TIME = CategoryEntry("drop", "time-based media")
_DROP_REPRO = CategoryEntry("drop", "reproduction, not an original medium")
_DROP_MANY = CategoryEntry("drop", "holds many works")

CATEGORY_TABLES: dict[str, dict[str, CategoryEntry]] = {
    # Artsy `category` (all 20 values the API documents).
    "artsy": {
        "painting": CategoryEntry("painting"),
        "print": CategoryEntry("engraving"),
        "photography": CategoryEntry("photography"),
        "drawing, collage or other work on paper": CategoryEntry("paper"),
        "mixed media": CategoryEntry("open"),
        "other": CategoryEntry("open"),
        "": CategoryEntry("open"),
        "architecture": _DROP_3D,
        "books and portfolios": _DROP_MANY,
        "design/decorative art": _DROP_3D,
        "ephemera or merchandise": _DROP_REPRO,
        "fashion design and wearable art": _DROP_3D,
        "installation": _DROP_3D,
        "jewelry": _DROP_3D,
        "nft": CategoryEntry("drop", "digital token, no physical medium"),
        "performance art": _DROP_TIME,
        "posters": _DROP_REPRO,
        "reproduction": _DROP_REPRO,
        "sculpture": _DROP_3D,
        "textile arts": _DROP_3D,
        "video/film/animation": _DROP_TIME,
    },
    # The Met `classification` (the first part before "|"; often empty).
    "met": {
        "paintings": CategoryEntry("painting"),
        "miniatures": CategoryEntry("painting"),
        "prints": CategoryEntry("engraving"),
        "photographs": CategoryEntry("photography"),
        "drawings": CategoryEntry("paper"),
        "pastels & oil sketches on paper": CategoryEntry("paper"),
        "watercolors": CategoryEntry("paper"),
        "": CategoryEntry("open"),
        "books": _DROP_MANY,
        "albums": _DROP_MANY,
        "ephemera": _DROP_REPRO,
        "sculpture": _DROP_3D,
        "ceramics": _DROP_3D,
        "glass": _DROP_3D,
        "metalwork": _DROP_3D,
        "furniture": _DROP_3D,
        "textiles": _DROP_3D,
        "costume": _DROP_3D,
        "arms": _DROP_3D,
        "jewelry": _DROP_3D,
        "musical instruments": _DROP_3D,
        "woodwork": _DROP_3D,
        "coins": _DROP_3D,
        "ivories": _DROP_3D,
        "lacquer": _DROP_3D,
    },
    # AIC `artwork_type_title`.
    "artic": {
        "painting": CategoryEntry("painting"),
        "miniature painting": CategoryEntry("painting"),
        "print": CategoryEntry("engraving"),
        "photograph": CategoryEntry("photography"),
        "drawing and watercolor": CategoryEntry("paper"),
        "architectural drawing": CategoryEntry("paper"),
        "": CategoryEntry("open"),
        "mixed media": CategoryEntry("open"),
        "book": _DROP_MANY,
        "sculpture": _DROP_3D,
        "textile": _DROP_3D,
        "vessel": _DROP_3D,
        "furniture": _DROP_3D,
        "decorative arts": _DROP_3D,
        "design": _DROP_3D,
        "installation": _DROP_3D,
        "costume and accessories": _DROP_3D,
        "ceramics": _DROP_3D,
        "metalwork": _DROP_3D,
        "coin": _DROP_3D,
        "arms": _DROP_3D,
        "basketry": _DROP_3D,
        "mask": _DROP_3D,
        "funerary object": _DROP_3D,
        "jewelry": _DROP_3D,
        "glass": _DROP_3D,
        "film, video, new media": _DROP_TIME,
        "film, video, new media, and sound": _DROP_TIME,
    },
}
"""Per source: normalised category → what it means. Unknown categories are dropped."""


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
    "paintings": "painting",
    "engravings": "engraving",
    "print": "engraving",
    "prints": "engraving",
    "drawings": "drawing",
    "gouache": "gouache_watercolor",
    "watercolor": "gouache_watercolor",
    "watercolour": "gouache_watercolor",
    "watercolors": "gouache_watercolor",
    "watercolours": "gouache_watercolor",
    "gouache_watercolour": "gouache_watercolor",
    "gouache-watercolor": "gouache_watercolor",
    "photograph": "photography",
    "photographs": "photography",
    "photo": "photography",
    "photos": "photography",
}
"""Names a person may give a medium (folder names, CSV labels) → the medium."""


def label_from_name(name: str | None) -> str | None:
    """Return the medium a folder name or CSV label means, or None if it names none.

    Examples
    --------
    >>> label_from_name("Watercolour")
    'gouache_watercolor'
    >>> label_from_name("sculpture") is None
    True
    """
    key = _normalise(name).replace(" ", "_")
    return LABEL_ALIASES.get(key)
