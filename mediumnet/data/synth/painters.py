"""The five mediums of the synthetic set: one painter per medium, and rendering one work.

Each painter draws one work of ``h`` x ``w`` from its artist's style and its variant (see
:mod:`mediumnet.data.synth` for the cues each medium carries and how the variants mislead).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from mediumnet.data.synth.draw import (
    Image,
    _blob_mask,
    _composite,
    _curves,
    _cv2,
    _field,
    _fine_noise,
    _glaze,
    _hatch,
    _inset_mask,
    _masses,
    _paper,
    _saturate,
    _streaks,
    _tooth,
    _vignette,
    _weave,
)
from mediumnet.data.synth.plan import ArtistStyle, WorkSpec


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


def render(spec: WorkSpec) -> np.ndarray:
    """Draw one work; returns a ``(height, width, 3)`` uint8 RGB image."""
    rng = np.random.default_rng(spec.seed)
    img = DRAWERS[spec.medium](spec.height, spec.width, rng, spec.style, spec.variant)
    return np.clip(img, 0, 255).round().astype(np.uint8)
