"""Keras 3 model builders for the three branches, and the augmentation block.

Builders use ``keras`` and ``keras.ops`` only, so they run on any Keras 3 backend. Every model
takes uint8-range images (0-255) and normalises inside; the output is five probabilities in the
order of :data:`mediumnet.labels.MEDIUMS`, kept in float32 under mixed precision.
"""

BUILDERS = {
    "composition": "mediumnet.models.composition:build_composition_cnn",
    "texture": "mediumnet.models.texture:build_texture_cnn",
    "effnet": "mediumnet.models.effnet:build_effnet",
}
"""Branch name → its builder (imported on demand: Keras is heavy)."""


def get_builder(branch: str):
    """Return the builder function of ``branch`` (composition, texture or effnet).

    Raises
    ------
    mediumnet.MediumnetError
        If the branch is unknown.
    """
    import importlib

    from mediumnet.errors import MediumnetError

    if branch not in BUILDERS:
        raise MediumnetError(f"unknown branch {branch!r}: choose one of {', '.join(BUILDERS)}")
    module, name = BUILDERS[branch].split(":")
    return getattr(importlib.import_module(module), name)
