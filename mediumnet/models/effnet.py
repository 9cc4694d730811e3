"""EfficientNet B0-B7 transfer learning with staged unfreezing (the research: B6 at 528 px)."""

from __future__ import annotations

from pathlib import Path

import keras
from keras import layers

from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS

VARIANTS: dict[str, tuple[str, int]] = {
    "B0": ("EfficientNetB0", 224), "B1": ("EfficientNetB1", 240),
    "B2": ("EfficientNetB2", 260), "B3": ("EfficientNetB3", 300),
    "B4": ("EfficientNetB4", 380), "B5": ("EfficientNetB5", 456),
    "B6": ("EfficientNetB6", 528), "B7": ("EfficientNetB7", 600),
}
"""Variant → (keras.applications class name, native input size)."""

BACKBONE = "backbone"


def build_effnet(variant: str = "B6", image_size: int | None = None, *,
                 weights: str | None = "imagenet", dropout: float = 0.3,
                 augmentation: keras.layers.Layer | None = None,
                 num_classes: int = len(MEDIUMS)) -> keras.Model:
    """Build an EfficientNet with a new head, backbone frozen (stage 1 of fine-tuning).

    Parameters
    ----------
    variant : str
        ``B0`` … ``B7``.
    image_size : int, optional
        Input side (default: the variant's native size, e.g. 528 for B6).
    weights : str or None
        ``"imagenet"`` (downloaded by Keras where the internet is reachable), None or
        ``"none"`` (random initialisation), or a path to a local weights file of the backbone.
    dropout : float
        Dropout before the classifier.
    augmentation : keras.layers.Layer, optional
        Applied first, in training only.

    Raises
    ------
    MediumnetError
        Unknown variant, a weights file that does not exist, or ImageNet weights that cannot
        be downloaded.
    """
    if variant not in VARIANTS:
        raise MediumnetError(f"unknown EfficientNet variant {variant!r}: choose one of "
                             f"{', '.join(VARIANTS)}")
    class_name, native = VARIANTS[variant]
    size = image_size or native
    local = None
    if weights in (None, "none", ""):
        keras_weights = None
    elif weights == "imagenet":
        keras_weights = "imagenet"
    else:
        local = Path(weights).expanduser()
        if not local.is_file():
            raise MediumnetError(f"effnet weights {weights}: no such file; give a local "
                                 "weights file, imagenet or none")
        keras_weights = None
    try:
        backbone = getattr(keras.applications, class_name)(
            include_top=False, weights=keras_weights, input_shape=(size, size, 3),
            pooling="avg")
    except Exception as exc:  # the download raises URL, HTTP or OS errors
        if keras_weights != "imagenet":
            raise
        raise MediumnetError(
            f"cannot download the ImageNet weights of EfficientNet{variant} ({type(exc).__name__}"
            "): give a local file with --set effnet.weights=/path/to/weights.h5 or train from "
            "scratch with --set effnet.weights=none") from None
    backbone.name = BACKBONE
    if local is not None:
        try:
            backbone.load_weights(str(local))
        except Exception as exc:
            raise MediumnetError(f"effnet weights {local} do not fit EfficientNet{variant} "
                                 f"({type(exc).__name__}): give the backbone's own weights "
                                 "file") from None
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
