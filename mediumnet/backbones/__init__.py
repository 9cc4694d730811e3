"""Keras 3 model builders the branches share: EfficientNet, the research's CNNs, augmentation.

Builders use ``keras`` and ``keras.ops`` only, so they run on any Keras 3 backend. Every model
takes uint8-range images (0-255) and normalises inside; the output is one probability per
medium the model knows, kept in float32 under mixed precision. Only
:mod:`~mediumnet.backbones.augment` imports keras_cv.
"""
