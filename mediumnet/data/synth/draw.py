"""The drawing primitives of the synthetic set: noise, paper, masses, lines, compositing.

Every image is float32 RGB in [0, 255] until it is encoded. The helpers keep their leading
underscore: they are private to :mod:`mediumnet.data.synth`.
"""

from __future__ import annotations

import math

import numpy as np

Image = np.ndarray


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
