"""A procedural art set that behaves like the real problem, for runs and tests with no internet.

Every medium is drawn from its real cues at two scales:

- **painting** — composition: full bleed, many saturated colour masses, dark-leaning;
  texture: canvas weave, directional brush streaks and stroke edges.
- **engraving** — composition: paper margin, plate mark, dense mid-grey monochrome tone;
  texture: crisp thin parallel and crossed hatching, aquatint grain.
- **drawing** — composition: mostly empty paper, few light objects; texture: soft, grainy
  graphite, charcoal or chalk lines that catch the paper's tooth.
- **gouache_watercolor** — composition: light transparent colour washes, white paper showing
  between them; texture: paper grain, soft wash edges with a darker rim, granulation.
- **photography** — composition: smooth tonal gradients, often colourless, full bleed or a thin
  white border; texture: smooth surfaces with film grain, no lines.

A share of the images (``SynthConfig.disagree_share``) is drawn so that the two scales disagree
on purpose, half of them each way:

- *composition misleads*: a sparse engraving that reads as a drawing when shrunk, a dense
  gouache that reads as oil, a dense charcoal that reads as a print, a colour photograph with
  a painterly palette, an oil sketch that leaves most of the ground bare;
- *texture misleads*: a crayon lithograph (grainy, drawing-like lines), a pen-and-ink drawing
  (crisp, engraving-like lines), a brushy gouache, grainless digital photography, thin glazes
  on a smooth panel.

So a composition-only model and a texture-only model each make errors the other can fix. Each
fake artist has a style (palette, paper tone, line angle and width), so a split that is not
grouped by artist leaks. Output is byte-identical for a given seed.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from mediumnet.config import SynthConfig
from mediumnet.errors import DatasetError
from mediumnet.labels import MEDIUMS

Image = np.ndarray
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


# ---------------------------------------------------------------------------------------------
# Primitives. Every image is float32 RGB in [0, 255] until it is encoded.
# ---------------------------------------------------------------------------------------------


def _cv2():
    import cv2

    cv2.setNumThreads(1)
    return cv2


def _field(h: int, w: int, rng: np.random.Generator, cell: float) -> np.ndarray:
    """Smooth noise with features about ``cell`` pixels across, zero mean, unit std."""
    cv2 = _cv2()
    gh, gw = max(2, int(math.ceil(h / cell)) + 2), max(2, int(math.ceil(w / cell)) + 2)
    small = rng.standard_normal((gh, gw)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    big -= big.mean()
    return big / (big.std() + 1e-6)


def _fine_noise(h: int, w: int, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Pixel-scale noise, blurred by ``sigma`` pixels, unit std."""
    cv2 = _cv2()
    noise = rng.standard_normal((h, w)).astype(np.float32)
    if sigma > 0:
        noise = cv2.GaussianBlur(noise, (0, 0), sigma)
    return noise / (noise.std() + 1e-6)


def _paper(h: int, w: int, rng: np.random.Generator, tone: tuple[int, int, int],
           grain: float, tooth_cell: float = 0.0, tooth: float = 0.0) -> Image:
    """Paper: a tone, fibre mottling, fine grain and optionally a coarse tooth."""
    img = np.empty((h, w, 3), np.float32)
    img[:] = tone
    mottle = _field(h, w, rng, 60.0) * 3.0
    surface = mottle + _fine_noise(h, w, rng, 0.6) * grain
    if tooth > 0:
        surface += _field(h, w, rng, tooth_cell) * tooth
    img += surface[..., None]
    return img


def _tooth(h: int, w: int, rng: np.random.Generator, cell: float) -> np.ndarray:
    """Where a dry medium catches the paper (0 in the valleys, 1 on the peaks)."""
    t = _field(h, w, rng, cell) * 0.6 + _fine_noise(h, w, rng, 0.7) * 0.8
    return np.clip(0.55 + 0.45 * t, 0.0, 1.0)


def _masses(h: int, w: int, rng: np.random.Generator, palette: np.ndarray, n: int,
            softness: float) -> Image:
    """Colour masses: a Voronoi map of ``n`` regions coloured from ``palette``, softened."""
    cv2 = _cv2()
    sh, sw = max(8, h // 16), max(8, w // 16)
    pts = rng.uniform(0, 1, size=(n, 2)) * (sh, sw)
    yy, xx = np.mgrid[0:sh, 0:sw]
    warp = _field(sh, sw, rng, 6.0) * 2.5
    d = (yy[..., None] + warp[..., None] - pts[:, 0]) ** 2 + (xx[..., None] - pts[:, 1]) ** 2
    owner = d.argmin(-1)
    colours = palette[rng.integers(0, len(palette), n)].astype(np.float32)
    colours *= rng.uniform(0.75, 1.15, size=(n, 1)).astype(np.float32)
    small = colours[owner]
    small = cv2.GaussianBlur(small, (0, 0), softness)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _line_kernel(length: int, angle: float) -> np.ndarray:
    cv2 = _cv2()
    k = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    dx, dy = math.cos(angle) * c, math.sin(angle) * c
    cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
    return k / k.sum()


def _streaks(h: int, w: int, rng: np.random.Generator, angle: float, length: int) -> np.ndarray:
    """Directional brush streaks: noise smeared along ``angle``, unit std."""
    cv2 = _cv2()
    noise = rng.standard_normal((h, w)).astype(np.float32)
    smeared = cv2.filter2D(noise, -1, _line_kernel(length | 1, angle))
    return smeared / (smeared.std() + 1e-6)


def _weave(h: int, w: int, rng: np.random.Generator, period: float) -> np.ndarray:
    """Canvas weave: alternating horizontal and vertical threads, in [-1, 1]."""
    y = np.arange(h, dtype=np.float32)[:, None]
    x = np.arange(w, dtype=np.float32)[None, :]
    jitter_y = _field(h, 1, rng, 40.0) * 0.8
    jitter_x = _field(1, w, rng, 40.0) * 0.8
    horizontal = np.cos(2 * np.pi * (y + jitter_y) / period)
    vertical = np.cos(2 * np.pi * (x + jitter_x) / period)
    checker = np.sign(np.sin(np.pi * (y + jitter_y) / period) * np.sin(np.pi * (x + jitter_x)
                                                                       / period))
    return np.where(checker > 0, horizontal, vertical).astype(np.float32)


def _hatch(h: int, w: int, rng: np.random.Generator, angle: float, spacing: float,
           width: float | np.ndarray, wobble: float) -> np.ndarray:
    """Crisp parallel lines (coverage in [0, 1]), anti-aliased over one pixel."""
    y = np.arange(h, dtype=np.float32)[:, None]
    x = np.arange(w, dtype=np.float32)[None, :]
    u = x * math.cos(angle) + y * math.sin(angle)
    if wobble > 0:
        u = u + _field(h, w, rng, 90.0) * wobble
    d = np.abs(np.mod(u / spacing, 1.0) - 0.5) * spacing
    return np.clip(np.asarray(width, np.float32) / 2 + 0.5 - d, 0.0, 1.0)


def _curves(h: int, w: int, rng: np.random.Generator, centre: tuple[float, float],
            spread: float, n: int, steps: int, step_len: float, thickness: int,
            straightness: float = 0.85) -> np.ndarray:
    """Random smooth strokes drawn as 1-valued polylines on a 0 canvas."""
    cv2 = _cv2()
    canvas = np.zeros((h, w), np.float32)
    for _ in range(n):
        y0 = centre[0] + rng.normal(0, spread * h)
        x0 = centre[1] + rng.normal(0, spread * w)
        heading = rng.uniform(0, 2 * np.pi)
        turns = rng.normal(0, 1 - straightness, steps).cumsum()
        angles = heading + turns
        xs = x0 + np.cumsum(np.cos(angles) * step_len)
        ys = y0 + np.cumsum(np.sin(angles) * step_len)
        pts = np.stack([xs, ys], -1).round().astype(np.int32)
        cv2.polylines(canvas, [pts], False, 1.0, max(1, thickness), cv2.LINE_AA)
    return canvas


def _blob_mask(h: int, w: int, rng: np.random.Generator, cell: float, cover: float,
               region: np.ndarray | None = None) -> np.ndarray:
    """Draw a random organic shape (0/1) covering about ``cover`` of the image or ``region``."""
    f = _field(h, w, rng, cell)
    if region is not None:
        f = f + (region - 1.0) * 4.0
    threshold = np.quantile(f[:: 8, :: 8], 1.0 - cover)
    return (f > threshold).astype(np.float32)


def _inset_mask(h: int, w: int, top: float, left: float, bottom: float, right: float
                ) -> np.ndarray:
    mask = np.zeros((h, w), np.float32)
    mask[int(h * top): h - int(h * bottom), int(w * left): w - int(w * right)] = 1.0
    return mask


def _vignette(h: int, w: int, sigma: float) -> np.ndarray:
    y = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    return np.exp(-(x ** 2 + y ** 2) / (2 * sigma ** 2))


def _composite(img: Image, colour: np.ndarray | tuple[float, ...], alpha: np.ndarray) -> Image:
    """Paint ``colour`` over ``img`` with opacity ``alpha`` (opaque media: oil, gouache, ink)."""
    a = alpha[..., None]
    return img * (1 - a) + np.asarray(colour, np.float32) * a


def _glaze(img: Image, colour: np.ndarray | tuple[float, ...], density: np.ndarray) -> Image:
    """Multiply a transparent colour into ``img`` (watercolour: the paper shows through)."""
    filt = np.asarray(colour, np.float32) / 255.0
    return img * (1 - density[..., None] * (1 - filt))


def _saturate(img: Image, factor: float) -> Image:
    grey = img.mean(-1, keepdims=True)
    return grey + (img - grey) * factor


# ---------------------------------------------------------------------------------------------
# The five mediums. Each draws one work of ``h`` x ``w`` from its style and variant.
# ---------------------------------------------------------------------------------------------


def _draw_painting(h: int, w: int, rng: np.random.Generator, s: ArtistStyle, variant: str
                   ) -> Image:
    cv2 = _cv2()
    palette = np.array(s.palette, np.float32)
    if variant == "composition_misleads":
        # An oil sketch: pale primed ground, a few strokes; reads as a drawing when shrunk.
        img = np.empty((h, w, 3), np.float32)
        img[:] = (226, 220, 204)
        coverage = _blob_mask(h, w, rng, min(h, w) / 5, rng.uniform(0.12, 0.22))
        coverage = cv2.GaussianBlur(coverage, (0, 0), 3)
        masses = _masses(h, w, rng, palette, 14, 1.0) * 0.9
        img = img * (1 - coverage[..., None]) + masses * coverage[..., None]
    else:
        dark = rng.uniform(0.35, 0.7)
        img = _masses(h, w, rng, palette, int(rng.integers(8, 30)), 1.2) * dark
        img = _saturate(img, rng.uniform(1.1, 1.5))
    # Stroke edges: short thick dabs along the artist's direction.
    strokes = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    n = int(h * w / 2500 * (0.4 if variant == "composition_misleads" else 1.0))
    length = 30 * s.scale
    ys, xs = rng.uniform(0, h, n), rng.uniform(0, w, n)
    angles = s.angle + rng.normal(0, 0.35, n)
    thick = np.clip(rng.normal(9 * s.scale, 3, n), 3, 30).astype(int)
    for y, x, a, t in zip(ys, xs, angles, thick, strict=True):
        x2, y2 = x + math.cos(a) * length, y + math.sin(a) * length
        base = img[int(y), int(x)] * rng.uniform(0.8, 1.2)
        cv2.line(strokes, (int(x), int(y)), (int(x2), int(y2)), base.tolist(), int(t),
                 cv2.LINE_AA)
        cv2.line(alpha, (int(x), int(y)), (int(x2), int(y2)), 1.0, int(t), cv2.LINE_AA)
    if variant == "composition_misleads":
        alpha *= coverage
    keep = alpha[..., None] * 0.7
    img = img * (1 - keep) + strokes * keep
    if variant == "texture_misleads":
        # Thin glazes on a smooth panel: no weave, blended strokes, fine craquelure.
        img = cv2.GaussianBlur(img, (0, 0), 2.0)
        cracks = _curves(h, w, rng, (h / 2, w / 2), 0.35, int(h * w / 40000), 30, 6, 1, 0.6)
        img -= (cracks * 25)[..., None]
        img += (_fine_noise(h, w, rng, 1.0) * 2.0)[..., None]
        return img
    streak = _streaks(h, w, rng, s.angle, int(15 + 20 * s.scale))
    weave = _weave(h, w, rng, 4.5 * s.scale)
    relief = streak * rng.uniform(7, 12) + weave * rng.uniform(7, 11)
    return img + relief[..., None]


def _draw_engraving(h: int, w: int, rng: np.random.Generator, s: ArtistStyle, variant: str
                    ) -> Image:
    cv2 = _cv2()
    img = _paper(h, w, rng, s.paper_tone, grain=2.0)
    margins = rng.uniform(0.07, 0.16, 4)
    plate = _inset_mask(h, w, *margins)
    # Scene tone (darkness in [0, 1]) inside the plate.
    tone = 0.5 + 0.25 * _field(h, w, rng, min(h, w) / rng.uniform(3, 7))
    tone += 0.15 * _field(h, w, rng, min(h, w) / 20)
    if variant == "composition_misleads":
        vignette = _vignette(h, w, rng.uniform(0.18, 0.28))
        tone = tone * vignette * 0.9
    tone = np.clip(tone, 0, 1) * plate
    # Plate tone and plate mark: the press leaves a faint rectangle around the image.
    img = img * (1 - plate[..., None] * 0.04)
    edge = cv2.morphologyEx(plate, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    img -= (edge * rng.uniform(25, 45))[..., None]
    ink = np.zeros((h, w), np.float32)
    if variant == "texture_misleads":
        # Crayon lithograph: grainy, soft tone that reads like a drawing at native size.
        tooth = _tooth(h, w, rng, 2.0)
        ink = np.clip((tone * 1.3 - (1 - tooth)) * 1.5, 0, 1)
        ink = cv2.GaussianBlur(ink, (0, 0), 0.9)
    else:
        spacing = 6.5 * s.scale
        angles = (s.angle, s.angle + np.pi / 2, s.angle + np.pi / 4, s.angle - np.pi / 4)
        for k, threshold in enumerate((0.12, 0.38, 0.6, 0.8)):
            swell = s.line_width * (0.6 + tone)
            lines = _hatch(h, w, rng, angles[k], spacing * (1 - 0.1 * k), swell, 1.5)
            ink = np.maximum(ink, lines * (tone > threshold))
        if rng.uniform() < 0.35:
            # Aquatint: crisp resin-grain dots add tone in the darkest places.
            grain = _fine_noise(h, w, rng, 0.8)
            dots = ((grain > 1.2 - tone * 1.6) & (tone > 0.45)).astype(np.float32)
            ink = np.maximum(ink, dots)
    return _composite(img, s.ink, ink * 0.92)


def _draw_drawing(h: int, w: int, rng: np.random.Generator, s: ArtistStyle, variant: str
                  ) -> Image:
    cv2 = _cv2()
    steps = max(12, int(60 * min(h, w) / 1200))  # stroke length follows the sheet's size
    img = _paper(h, w, rng, s.paper_tone, grain=2.5)
    if variant == "texture_misleads":
        # Pen and ink: crisp lines (like an engraving at native size) on empty paper.
        centre = (h * rng.uniform(0.35, 0.65), w * rng.uniform(0.35, 0.65))
        lines = _curves(h, w, rng, centre, 0.12, int(rng.integers(25, 60)), steps,
                        4 * s.scale, 1)
        hatching = _hatch(h, w, rng, s.angle, 7 * s.scale, 1.3, 2.0)
        region = _blob_mask(h, w, rng, min(h, w) / 6, 0.1) * _vignette(h, w, 0.35)
        ink = np.maximum(lines, hatching * (region > 0.5))
        return _composite(img, s.ink, np.clip(ink, 0, 1) * 0.9)
    tooth = _tooth(h, w, rng, 2.2 * s.scale)
    if variant == "composition_misleads":
        # Dense charcoal: the whole sheet worked in dark tone; reads as a print when shrunk.
        tone = np.clip(0.55 + 0.25 * _field(h, w, rng, min(h, w) / 4), 0, 1)
        strokes = _curves(h, w, rng, (h / 2, w / 2), 0.3, int(rng.integers(150, 260)), steps,
                          6 * s.scale, int(4 * s.scale))
        cover = np.clip(tone * 0.8 + strokes * 0.3, 0, 1)
    else:
        n_objects = int(rng.integers(1, 4))
        cover = np.zeros((h, w), np.float32)
        for _ in range(n_objects):
            centre = (h * rng.uniform(0.3, 0.7), w * rng.uniform(0.3, 0.7))
            outline = _curves(h, w, rng, centre, rng.uniform(0.05, 0.12),
                              int(rng.integers(8, 25)), steps, 5 * s.scale,
                              max(2, int(s.line_width * 2.5)))
            cover = np.maximum(cover, outline)
            region = _blob_mask(h, w, rng, min(h, w) / 10, 0.03,
                                region=_vignette(h, w, 0.25))
            shade = _hatch(h, w, rng, s.angle, 9 * s.scale, 2.5, 3.0) * region
            cover = np.maximum(cover, shade * 0.7)
    soft = cv2.GaussianBlur(cover, (0, 0), 1.1 * s.scale)
    dry = np.clip(soft * (0.35 + tooth), 0, 1)
    return _composite(img, s.ink, dry * 0.85)


def _draw_gouache(h: int, w: int, rng: np.random.Generator, s: ArtistStyle, variant: str
                  ) -> Image:
    cv2 = _cv2()
    img = _paper(h, w, rng, (246, 244, 238), grain=2.5, tooth_cell=3.0 * s.scale, tooth=5.0)
    palette = np.array(s.palette, np.float32)
    if variant == "composition_misleads":
        # Dense gouache: opaque dark colour to the edges; reads as oil when shrunk.
        body = _masses(h, w, rng, palette, int(rng.integers(8, 24)), 1.0)
        body = _saturate(body * rng.uniform(0.5, 0.8), 1.3)
        img = body + (_field(h, w, rng, 3.0 * s.scale) * 5.0)[..., None]
        return img + (_fine_noise(h, w, rng, 0.6) * 2.0)[..., None]
    margins = rng.uniform(0.04, 0.12, 4)
    area = cv2.GaussianBlur(_inset_mask(h, w, *margins), (0, 0), 12)
    for _ in range(int(rng.integers(4, 9))):
        mask = _blob_mask(h, w, rng, min(h, w) / rng.uniform(3, 8), rng.uniform(0.08, 0.3))
        mask *= area
        soft = cv2.GaussianBlur(mask, (0, 0), rng.uniform(2.0, 5.0) * s.scale)
        rim = np.clip(soft - cv2.GaussianBlur(soft, (0, 0), 6 * s.scale), 0, 1) * 1.8
        granulation = 1 + 0.15 * _fine_noise(h, w, rng, 1.5)
        density = np.clip((soft * rng.uniform(0.25, 0.5) + rim * 0.6) * granulation, 0, 1)
        colour = palette[rng.integers(0, len(palette))]
        img = _glaze(img, colour, density)
    if variant == "texture_misleads":
        # Brushy gouache: directional brush marks like oil at native size.
        streak = _streaks(h, w, rng, s.angle, int(15 + 20 * s.scale))
        img += (streak * 9.0 * area)[..., None]
    return img


def _draw_photograph(h: int, w: int, rng: np.random.Generator, s: ArtistStyle, variant: str
                     ) -> Image:
    cv2 = _cv2()
    # A scene: sky-to-ground gradient, a few shapes in and out of focus.
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    horizon = rng.uniform(0.3, 0.7)
    grad = np.where(y < horizon, 200 - 60 * y / horizon, 120 - 50 * (y - horizon))
    lum = np.broadcast_to(grad, (h, w)).astype(np.float32).copy()
    lum += _field(h, w, rng, min(h, w) / 3) * 25
    for _ in range(int(rng.integers(2, 6))):
        shape = _blob_mask(h, w, rng, min(h, w) / rng.uniform(3, 9), rng.uniform(0.03, 0.15))
        focus = rng.choice([0.8, 2.0, 8.0, 20.0])
        shape = cv2.GaussianBlur(shape, (0, 0), focus)
        lum = lum * (1 - shape) + rng.uniform(20, 230) * shape
    lum *= 0.75 + 0.25 * _vignette(h, w, 0.7)
    if variant == "composition_misleads":
        # Colour photograph with a painterly palette: saturated masses, full bleed.
        palette = np.array(s.palette, np.float32)
        colour = _masses(h, w, rng, palette, int(rng.integers(6, 14)), 3.0)
        colour = cv2.GaussianBlur(colour, (0, 0), 4)
        img = _saturate(colour * (lum[..., None] / 128.0) * 0.7, 1.4)
    else:
        toning = rng.choice(["grey", "grey", "sepia", "colour"])
        tint = {"grey": (1.0, 1.0, 1.0), "sepia": (1.08, 0.97, 0.8),
                "colour": tuple(rng.uniform(0.85, 1.15, 3))}[toning]
        img = lum[..., None] * np.array(tint, np.float32)
        if toning == "colour":
            hue = _field(h, w, rng, min(h, w) / 2)
            img = img + np.stack([hue * 10, -hue * 4, -hue * 10], -1)
    sigma = 1.5 if variant == "texture_misleads" else rng.uniform(6, 11)
    grain = _fine_noise(h, w, rng, 0.6) * sigma
    img = img + grain[..., None]
    if variant != "composition_misleads" and rng.uniform() < 0.4:
        border = int(min(h, w) * rng.uniform(0.02, 0.05))
        img[:border], img[-border:], img[:, :border], img[:, -border:] = 245, 245, 245, 245
    return img


DRAWERS: dict[str, Callable[..., Image]] = {
    "painting": _draw_painting,
    "engraving": _draw_engraving,
    "drawing": _draw_drawing,
    "gouache_watercolor": _draw_gouache,
    "photography": _draw_photograph,
}
"""Medium → function drawing one work: ``(h, w, rng, style, variant) -> float image``."""


# ---------------------------------------------------------------------------------------------
# Artists, specs, rendering and the data set.
# ---------------------------------------------------------------------------------------------

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


def render(spec: WorkSpec) -> np.ndarray:
    """Draw one work; returns a ``(height, width, 3)`` uint8 RGB image."""
    rng = np.random.default_rng(spec.seed)
    img = DRAWERS[spec.medium](spec.height, spec.width, rng, spec.style, spec.variant)
    return np.clip(img, 0, 255).round().astype(np.uint8)


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    """Encode an RGB uint8 image as baseline JPEG bytes (deterministic)."""
    cv2 = _cv2()
    ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV fails only on empty images
        raise DatasetError("could not encode a synthetic image as JPEG")
    return buf.tobytes()


def _make_one(args: tuple[WorkSpec, str]) -> dict:
    spec, dataset_dir = args
    from mediumnet.data.images import phash, store_image_bytes

    rgb = render(spec)
    data = encode_jpeg(rgb, spec.quality)
    relpath, digest = store_image_bytes(dataset_dir, data, ".jpg")
    misleads = {"typical": "",
                "composition_misleads": "; composition misleads (shrunk, it reads as another "
                                        "medium)",
                "texture_misleads": "; texture misleads (at native size, it reads as another "
                                    "medium)"}[spec.variant]
    return {
        "id": spec.id,
        "source": "synth",
        "label": spec.medium,
        "label_reason": f"synthetic {spec.medium}{misleads}",
        "title": f"Synthetic {spec.medium.replace('_', ' ')} no. {spec.index}",
        "artist": spec.style.name,
        "date": "",
        "category": f"synthetic/{spec.variant}",
        "medium_text": spec.medium_text,
        "image_path": relpath,
        "image_url": "",
        "sha256": digest,
        "width": spec.width,
        "height": spec.height,
        "bytes": len(data),
        "phash": phash(rgb),
        "rights": "CC0 (procedurally generated by mediumnet)",
        "split": "",
    }


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


def synthesize(dataset_dir: str | os.PathLike[str], config: SynthConfig, *,
               min_size: int = 1, progress: bool = True):
    """Generate the synthetic data set into ``dataset_dir`` and merge it into its manifest.

    Parameters
    ----------
    dataset_dir : path-like
        Dataset folder (created if needed). Existing works of other sources are kept; works
        of the same seed are replaced, never duplicated.
    config : SynthConfig
        Size, count, seed, JPEG quality, share of disagreeing works, workers.
    min_size : int
        The smallest side an image may have (the texture tile size): smaller requests fail.
    progress : bool
        Show a progress bar.

    Returns
    -------
    pandas.DataFrame
        The rows written for this set (the full manifest is on disk).

    Raises
    ------
    DatasetError
        On a non-positive count, an image size below ``min_size`` or above 8000 px, or a
        folder that cannot be written.
    """
    from tqdm.auto import tqdm

    from mediumnet.data.manifest import ensure_dataset_dir, manifest_frame, upsert_manifest

    check_request(config, min_size)
    specs = plan_works(config)
    root = ensure_dataset_dir(dataset_dir)
    workers = config.workers or os.cpu_count() or 1
    jobs = [(spec, str(root)) for spec in specs]
    bar = tqdm(total=len(jobs), desc="synth", unit="img",
               disable=None if progress else True, leave=False)
    rows: list[dict] = []
    if workers == 1:
        for job in jobs:
            rows.append(_make_one(job))
            bar.update()
    else:
        # "spawn": forking a process whose OpenCV/BLAS threads already run can deadlock.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for row in pool.map(_make_one, jobs, chunksize=2):
                rows.append(row)
                bar.update()
    bar.close()
    raw = root / "raw"
    raw.mkdir(exist_ok=True)
    record = raw / f"synth-s{config.seed}.jsonl"
    tmp = record.with_suffix(".jsonl.part")
    with tmp.open("w") as fh:
        for spec in specs:
            fh.write(json.dumps(asdict(spec)) + "\n")
    tmp.replace(record)
    frame = manifest_frame(rows)
    upsert_manifest(root, frame)
    return frame


def synth_summary(frame) -> str:
    """Return a short text table: works per medium and variant."""
    table = frame.groupby(["label", "category"]).size().unstack(fill_value=0)
    table.columns = [c.split("/", 1)[1] for c in table.columns]
    return table.reindex(MEDIUMS).fillna(0).astype(int).to_string()
