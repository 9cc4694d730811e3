"""What the synthetic set holds: variants, medium texts, fake artists and one spec per work.

Everything here is decided from the seed alone, before any pixel is drawn (see
:mod:`mediumnet.data.synth`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mediumnet.errors import DatasetError
from mediumnet.labels import MEDIUMS
from mediumnet.settings import SynthConfig

VARIANTS: tuple[str, ...] = ("typical", "composition_misleads", "texture_misleads")

MEDIUM_TEXTS: dict[str, dict[str, tuple[str, ...]]] = {
    "painting": {
        "typical": ("Oil on canvas", "Oil on linen", "Acrylic on canvas"),
        "composition_misleads": ("Oil on primed canvas (sketch)", "Oil on canvas, unfinished"),
        "texture_misleads": ("Oil on panel", "Tempera on panel", "Oil on copper"),
    },
    "engraving": {
        "typical": ("Engraving", "Etching and drypoint", "Etching and aquatint on laid paper",
                    "Line engraving on wove paper"),
        "composition_misleads": ("Etching", "Drypoint on laid paper"),
        "texture_misleads": ("Lithograph", "Crayon lithograph on wove paper"),
    },
    "drawing": {
        "typical": ("Graphite on paper", "Charcoal on laid paper", "Red chalk",
                    "Black chalk on blue paper"),
        "composition_misleads": ("Charcoal on paper", "Charcoal and stumping on wove paper"),
        "texture_misleads": ("Pen and brown ink", "Pen and black ink on paper"),
    },
    "gouache_watercolor": {
        "typical": ("Watercolor on paper", "Watercolor and graphite on wove paper",
                    "Watercolour and bodycolour"),
        "composition_misleads": ("Gouache on paper", "Gouache on board"),
        "texture_misleads": ("Gouache on textured board", "Gouache and watercolor on paper"),
    },
    "photography": {
        "typical": ("Gelatin silver print", "Albumen print", "Platinum print"),
        "composition_misleads": ("Chromogenic print", "Dye transfer print"),
        "texture_misleads": ("Inkjet print", "Archival pigment print"),
    },
}
"""Realistic free-text mediums written into ``medium_text``, per medium and variant."""


@dataclass(frozen=True)
class ArtistStyle:
    """What stays the same across one fake artist's works."""

    name: str
    palette: tuple[tuple[int, int, int], ...]
    paper_tone: tuple[int, int, int]
    ink: tuple[int, int, int]
    angle: float
    line_width: float
    scale: float


@dataclass(frozen=True)
class WorkSpec:
    """Everything needed to draw one synthetic work (a pure function of the seed)."""

    id: str
    medium: str
    variant: str
    index: int
    seed: int
    width: int
    height: int
    quality: int
    medium_text: str
    style: ArtistStyle


_PAPER_TONES = ((244, 238, 222), (238, 232, 214), (247, 245, 238), (232, 224, 204),
                (214, 222, 230))
_INKS = {
    "engraving": ((22, 20, 24), (40, 30, 26), (30, 32, 48), (120, 50, 35)),
    "drawing": ((70, 70, 76), (35, 33, 35), (150, 70, 45), (95, 70, 45)),
}


def _artist(medium: str, k: int, rng: np.random.Generator) -> ArtistStyle:
    n_colours = int(rng.integers(4, 8))
    hues = rng.uniform(0, 1, n_colours)
    import colorsys

    palette = tuple(
        tuple(int(255 * c) for c in colorsys.hsv_to_rgb(hue, rng.uniform(0.45, 0.95),
                                                        rng.uniform(0.45, 1.0)))
        for hue in hues
    )
    inks = _INKS.get(medium, ((30, 30, 30),))
    return ArtistStyle(
        name=f"synth-{medium}-{k:03d}",
        palette=palette,
        paper_tone=_PAPER_TONES[int(rng.integers(0, len(_PAPER_TONES)))],
        ink=inks[int(rng.integers(0, len(inks)))],
        angle=float(rng.uniform(0, np.pi)),
        line_width=float(rng.uniform(1.0, 2.0)),
        scale=float(rng.uniform(0.8, 1.4)),
    )


def plan_works(config: SynthConfig) -> list[WorkSpec]:
    """Decide, from the seed alone, every work of the set: medium, variant, artist, seed.

    Raises
    ------
    DatasetError
        If ``per_class`` is not positive.
    """
    check_request(config)
    root = np.random.SeedSequence(config.seed)
    specs: list[WorkSpec] = []
    for m_index, (medium, medium_seq) in enumerate(
            zip(MEDIUMS, root.spawn(len(MEDIUMS)), strict=True)):
        if medium not in config.mediums:
            continue
        rng = np.random.default_rng(medium_seq)
        n_artists = config.artists_per_class or max(1, math.ceil(config.per_class / 5))
        artists = [_artist(medium, k, rng) for k in range(n_artists)]
        n_disagree = round(config.per_class * config.disagree_share)
        variants = (["composition_misleads"] * (n_disagree - n_disagree // 2)
                    + ["texture_misleads"] * (n_disagree // 2))
        variants += ["typical"] * (config.per_class - len(variants))
        variants = [variants[i] for i in rng.permutation(len(variants))]
        seeds = rng.integers(0, 2**63 - 1, config.per_class)
        for i, variant in enumerate(variants):
            texts = MEDIUM_TEXTS[medium][variant]
            specs.append(WorkSpec(
                id=f"synth:s{config.seed}-{medium}-{i:05d}",
                medium=medium,
                variant=variant,
                index=m_index * config.per_class + i,
                seed=int(seeds[i]),
                width=config.width,
                height=config.height,
                quality=config.jpeg_quality,
                medium_text=texts[int(rng.integers(0, len(texts)))],
                style=artists[int(rng.integers(0, n_artists))],
            ))
    return specs


def check_request(config: SynthConfig, min_size: int = 1) -> None:
    """Check a synthetic-set request before any work is done.

    Raises
    ------
    DatasetError
        On a non-positive count or an image side below ``min_size`` (the texture tile size)
        or above 8000 px.
    """
    if config.per_class <= 0:
        raise DatasetError(f"--per-class {config.per_class}: ask for at least 1 image per medium")
    unknown = [m for m in config.mediums if m not in MEDIUMS]
    if unknown or not config.mediums:
        raise DatasetError(f"--mediums {','.join(config.mediums)}: name one or more of "
                           f"{', '.join(MEDIUMS)}")
    if config.width < min_size or config.height < min_size:
        raise DatasetError(
            f"--size {config.width}x{config.height} is below the texture tile size "
            f"({min_size} px): ask for at least {min_size}x{min_size}"
        )
    if max(config.width, config.height) > 8000:
        raise DatasetError(f"--size {config.width}x{config.height} is too large: "
                           "keep each side at or below 8000 px")
