"""The settings sections every run shares: data, synth, harvest, train, ensemble.

A branch brings its own section (its module in :mod:`mediumnet.branches`);
:mod:`mediumnet.config` puts them all together into one :class:`~mediumnet.config.Config`
with named presets.
"""

from __future__ import annotations

from dataclasses import dataclass

from mediumnet.labels import MEDIUMS
from mediumnet.serving.downloads import MAX_IMAGE_BYTES


@dataclass
class DataConfig:
    """How images become the two views the branches see, and how the data set is split."""

    composition_size: int = 320
    """Side of the letterboxed whole-image (composition) view, in pixels."""
    texture_tile: int = 320
    """Side of one native-resolution texture tile, in pixels."""
    tiles_per_image_train: int = 4
    """Random texture tiles cut from each image per training epoch."""
    tiles_per_image_eval: int = 9
    """Texture tiles on the fixed evaluation grid of each image."""
    cache_long_edge: int = 2400
    """Long edge of the bounded-resolution copy that random tiles are cut from."""
    blank_tile_std: float = 0.0
    """Reject tiles whose grey-level standard deviation is below this (0 keeps all)."""
    val_fraction: float = 0.15
    """Share of works in the validation split."""
    test_fraction: float = 0.15
    """Share of works in the test split."""
    split_seed: int = 0
    """Seed of the grouped, stratified split."""
    min_groups: int = 3
    """Artist groups a medium needs to be split (one each for train, val and test)."""


@dataclass
class SynthConfig:
    """The procedural data set of ``mediumnet synth``."""

    per_class: int = 200
    """Images per medium."""
    width: int = 1600
    """Image width in pixels."""
    height: int = 1200
    """Image height in pixels."""
    seed: int = 0
    """Seed: the same seed gives byte-identical images."""
    jpeg_quality: int = 90
    """JPEG quality of the written images."""
    disagree_share: float = 0.2
    """Share of images whose composition and texture cues point to different mediums."""
    artists_per_class: int = 0
    """Fake artists per medium (0: one artist per five works)."""
    workers: int = 0
    """Processes that draw images (0: one per CPU core)."""
    mediums: tuple[str, ...] = MEDIUMS
    """The mediums to draw (a subset gives the same works of those mediums as the full set)."""


@dataclass
class HarvestConfig:
    """How ``mediumnet harvest`` talks to collection APIs and checks what it downloads."""

    api_rate: float = 0.0
    """Requests per second to the API (0: the source's polite default: Artsy 5, Met 3,
    AIC 1)."""
    image_rate: float = 0.0
    """Image downloads per second (0: the source's default)."""
    workers: int = 4
    """Parallel image downloads."""
    retries: int = 5
    """Retries of one request on 429, 5xx, timeouts and connection resets."""
    backoff: float = 1.0
    """First back-off delay in seconds; it doubles on every retry, with jitter."""
    max_backoff: float = 60.0
    """Longest wait between two tries, Retry-After included."""
    timeout: float = 30.0
    """Seconds to wait for a server to answer."""
    max_image_bytes: int = MAX_IMAGE_BYTES
    """Larger downloads are refused (and counted) rather than read on; a folder harvest's local
    files are judged by their pixels instead (at most ``MAX_PIXELS``, as every branch)."""
    max_depth_ratio: float = 0.15
    """Works whose depth exceeds this share of their larger side are three-dimensional."""
    phash_distance: int = 4
    """Images whose perceptual hashes differ in at most this many bits are near-duplicates."""
    page_size: int = 100
    """Records per listing page."""
    keep_unlabelled: bool = False
    """Keep the works whose record names no medium that maps (a folder row with an empty label,
    or one naming no medium or two), unlabelled, with the reason; they stay outside every
    split. So is the first copy of an image recorded under two mediums (``label_conflict``),
    for a curator to give it the one it is."""
    forget_gone: bool = False
    """Folder source: leave out the works harvested before from this ``--from`` whose image
    file (or CSV row) is gone from it. Without it they are kept, with the images the data set
    holds, and counted in a note; a file put back is taken in again."""


@dataclass
class TrainConfig:
    """What every branch's training shares."""

    class_weights: bool = True
    """Penalise errors on rare classes more (balanced class weights from the training split)."""
    mixed_precision: str = "auto"
    """``auto`` (on when a GPU is present), ``on`` or ``off``."""
    strategy: str = "auto"
    """``auto`` (MirroredStrategy on several GPUs, else default), ``mirrored``,
    ``multiworker`` (from TF_CONFIG) or ``default``."""
    early_stopping_patience: int = 5
    early_stopping_start: int = 2
    """Epochs before early stopping may act (a noisy validation set must not stop epoch 1)."""
    monitor: str = "val_macro_f1"
    """What early stopping and checkpoints watch: ``val_macro_f1`` or ``val_loss``."""
    schedule: str = "linear"
    """``linear`` (the research: learning_rate → final_learning_rate) or ``cosine``."""
    warmup_epochs: int = 1
    """Epochs of linear learning-rate warm-up from a tenth of the rate."""
    label_smoothing: float = 0.0
    augmentation: str = "medium_preserving"
    """``medium_preserving``, ``randaugment`` or ``none``."""
    batch_mix: str = "none"
    """Mix training batches: ``mixup``, ``cutmix`` (Keras core layers, images and labels) or
    ``none``."""
    seed: int = 0


@dataclass
class EnsembleConfig:
    """The stacking meta-learner over branch outputs."""

    meta_learner: str = "auto"
    """``logistic`` (multinomial, balanced class weights), ``boosting``, or ``auto``: both
    searched, the better kept by grouped cross-validation (the features branch too)."""
    use_features: bool = True
    """Add the features branch: a classifier on the visual features (texture descriptors
    included) of :mod:`mediumnet.study.features`, fit on the training split."""
    meta_features: bool = False
    """The meta-learner also takes the visual features themselves (scaled), besides the
    features branch's probabilities. Off by default: on real works (peopleart-mediums) the
    ~100 raw values overfit a validation split of 130 works (stack test macro-F1 0.73 with
    them, 0.79 without)."""
    keep: str = "better"
    """What ``mediumnet stack`` registers: ``better`` (the stack, or a branch that can stand
    alone — the features-only ensemble — when it scores strictly higher on the validation
    works), ``stack``, or the name of a branch that can stand alone (``features``)."""
    cv_folds: int = 5
    """Folds of the grouped cross-validation that fits the meta-learner on the validation
    split."""
    branch_cv_folds: int = 5
    """Folds of the grouped cross-validation that chooses a fitted branch's learner on the
    training split (larger than the validation split: 5 folds even where the meta-learner
    uses fewer)."""
