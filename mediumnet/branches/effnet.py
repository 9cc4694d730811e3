"""The EfficientNet branch: the whole work through EfficientNet B0-B7, fine-tuned in stages.

The study's best model (87.84 %) was EfficientNetB6 transfer learning at 528 px. The branch
reads the whole work letterboxed to ``effnet.image_size`` and fine-tunes in three stages —
the head, then the top half of the backbone, then all of it — BatchNormalization kept frozen,
each stage a nested MLflow run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from mediumnet.branches.base import KerasBranch, Stage
from mediumnet.branches.composition import CompositionPreprocessor, whole_image_preprocessor
from mediumnet.errors import ConfigError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    from mediumnet.config import Config


@dataclass
class EffnetConfig:
    """EfficientNet transfer learning with staged unfreezing."""

    variant: str = "B6"
    """One of B0 … B7."""
    image_size: int = 528
    weights: str = "imagenet"
    """``imagenet``, ``none`` (random initialisation) or a path to a local weights file."""
    batch_size: int = 16
    dropout: float = 0.3
    stage_epochs: tuple[int, ...] = (5, 5, 5)
    """Epochs of stage 1 (head only), 2 (top half unfrozen) and 3 (all unfrozen)."""
    stage_learning_rates: tuple[float, ...] = (0.005, 0.001, 0.0001)


@dataclass
class EffnetPreprocessor(CompositionPreprocessor):
    """The whole work at the EfficientNet variant's size."""

    size: int = 528
    branch: str = "effnet"


def effnet_start_weights(config: Config) -> dict[str, str]:
    """Return what an EfficientNet backbone of ``config.effnet`` starts from, and its sha256."""
    from mediumnet.backbones.effnet import weights_sha256

    weights = str(config.effnet.weights or "none")
    return {"start_weights": weights, "start_weights_sha256": weights_sha256(weights)}


class EffnetBranch(KerasBranch):
    """EfficientNet B0-B7 on the whole work, three fine-tuning stages."""

    name: ClassVar[str] = "effnet"
    title: ClassVar[str] = "EfficientNet"
    summary: ClassVar[str] = ("the whole work through EfficientNet B0-B7 "
                              "(three fine-tuning stages)")
    settings: ClassVar[type] = EffnetConfig
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "demo": {"variant": "B0", "image_size": 96, "weights": "none", "batch_size": 16,
                 "stage_epochs": (1, 1, 1)},
        "tiny": {"variant": "B0", "image_size": 32, "weights": "none", "batch_size": 16,
                 "stage_epochs": (1, 1, 1)},
        "full": {"variant": "B7", "image_size": 600, "batch_size": 8,
                 "stage_epochs": (5, 10, 10)},
    }
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "variant": tuple(f"B{i}" for i in range(8))}
    positive: ClassVar[tuple[str, ...]] = ("image_size", "batch_size")
    stacking: ClassVar[str] = "when_trained"
    entry_params: ClassVar[tuple[tuple[str, Any, str, str], ...]] = (
        ("variant", "", "string", "effnet.variant"),
        ("image_size", 0.0, "float", "effnet.image_size"),
        ("epochs", "", "string", "effnet.stage_epochs"),
        ("weights", "", "string", "effnet.weights"))
    entry_doc: ClassVar[str] = (
        "variant B0-B7; image_size 0 = the variant's size in the preset; epochs: three stage "
        "epoch counts such as 5,5,5; weights: imagenet, none or a path to a local weights "
        "file. Empty values keep the preset's (seed: B6 at 528 px, ImageNet).")

    random_start_note: ClassVar[str] = (
        "EfficientNet started from random weights (effnet.weights=none: nothing is downloaded "
        "here), so it learns little; `mediumnet weights fetch` and -P set=effnet.weights=FILE "
        "give it ImageNet's.")

    def in_workflow(self, preset: str) -> bool:
        """Off in the demo and tiny presets: from random weights on a CPU it learns nothing."""
        return preset not in ("demo", "tiny")

    def check(self, config: Config) -> None:
        s = self.section(config)
        if len(s.stage_epochs) != 3 or len(s.stage_learning_rates) != 3:
            raise ConfigError(f"{self.name}.stage_epochs and {self.name}.stage_learning_rates "
                              "need three values each (head only, top half, all layers)")

    def preprocessor(self, config: Config, classes: Sequence[str] = MEDIUMS
                     ) -> EffnetPreprocessor:
        return EffnetPreprocessor(size=self.section(config).image_size, classes=tuple(classes))

    def preprocessor_from_config(self, settings: Mapping[str, Any]) -> EffnetPreprocessor:
        return whole_image_preprocessor(EffnetPreprocessor, settings)  # type: ignore[return-value]

    def stages(self, config: Config) -> list[Stage]:
        s = self.section(config)
        return [Stage(epochs, lr, lr / 5, nested=True)
                for epochs, lr in zip(s.stage_epochs, s.stage_learning_rates, strict=True)]

    def enter_stage(self, model: Any, stage: int) -> None:
        from mediumnet.backbones.effnet import set_stage

        set_stage(model, stage)

    def start_weights(self, config: Config) -> dict[str, str]:
        return effnet_start_weights(config)

    def build(self, config: Config, num_classes: int = len(MEDIUMS)) -> Any:
        from mediumnet.backbones.augment import build_augmentation
        from mediumnet.backbones.effnet import build_effnet

        s = self.section(config)
        aug = build_augmentation(s.image_size, config.train.augmentation,
                                 seed=config.train.seed)
        return build_effnet(s.variant, s.image_size, weights=s.weights, dropout=s.dropout,
                            augmentation=aug, num_classes=num_classes)
