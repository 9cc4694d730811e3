"""Every MLflow name mediumnet writes or reads: experiment, registered models, alias, tags.

One constant per name, so that a tag is spelled once; :mod:`mediumnet.tracking` and
:mod:`mediumnet.registry` use these to open runs and register models, and the steps to tag
them.
"""

EXPERIMENT = "mediumnet"
"""The MLflow experiment every mediumnet run belongs to."""

MODEL_PREFIX = "mediumnet-"
"""Registered models are named ``mediumnet-<kind>``: a branch (``mediumnet-texture`` …) or the
ensemble (:data:`ENSEMBLE_MODEL`)."""

ENSEMBLE = "ensemble"
"""The kind of the served ensemble's registered model."""

ENSEMBLE_MODEL = MODEL_PREFIX + ENSEMBLE
"""The registered name of the served ensemble: ``mediumnet-ensemble``."""

CHAMPION = "champion"
"""The alias of the version to serve."""

# -- on every run ---------------------------------------------------------------------------
TAG_VERSION = "mediumnet.version"
TAG_GIT_COMMIT = "mediumnet.git_commit"
TAG_DATASET_DIGEST = "mediumnet.dataset_digest"
TAG_DATASET_DIR = "mediumnet.dataset_dir"
TAG_PRESET = "mediumnet.preset"
TAG_STEP = "mediumnet.step"
TAG_MEDIUMS = "mediumnet.mediums"
"""The mediums a model was trained on (comma-separated, in the order of MEDIUMS)."""
TAG_RESHUFFLED = "mediumnet.reshuffled"
"""On a split run: whether every work was assigned anew (else existing splits were kept)."""
TAG_DATASET_DIGEST_BEFORE = "mediumnet.dataset_digest_before"
"""On a label run: the digest of the data set before the merge (``dataset_digest``: after)."""

# -- branch models --------------------------------------------------------------------------
TAG_COLLAPSED = "mediumnet.collapsed"
TAG_COLLAPSE_REASON = "mediumnet.collapse_reason"
TAG_PROMOTABLE = "mediumnet.promotable"
TAG_PREPROCESSING = "mediumnet.branches.base"
"""The branch's preprocessor configuration, as JSON."""

# -- the ensemble ---------------------------------------------------------------------------
TAG_TEST_SPLIT = "mediumnet.test_split_digest"
TAG_TEST_MACRO_F1 = "mediumnet.test_macro_f1"
TAG_VAL_SPLIT = "mediumnet.val_split_digest"
TAG_SELECTION_MACRO_F1 = "mediumnet.selection_macro_f1"
"""Out-of-fold macro-F1 on the validation works: what the champion comparison reads."""
TAG_PROMOTED = "mediumnet.promoted"
TAG_PROMOTION_REASON = "mediumnet.promotion_reason"
TAG_ENSEMBLE_VERSION = "mediumnet.ensemble_version"
TAG_META_LEARNER = "mediumnet.meta_learner"
TAG_USE_PREFIX = "mediumnet.use_"
"""``mediumnet.use_<branch>``: whether an ensemble's stack fit that fitted branch
(``mediumnet.use_features``)."""
TAG_ENSEMBLE_KIND = "mediumnet.ensemble_kind"
"""``stack``, or the fitted branch registered alone (``features``: the features-only ensemble,
registered when it beats the stack on the validation works)."""
TAG_BRANCH_PREFIX = "mediumnet.branch."
"""``mediumnet.branch.<kind>``: the branch model version an ensemble was built from."""

# -- the multistep workflow ---------------------------------------------------------------
TAG_PARENT = "mlflow.parentRunId"
TAG_ENTRY_POINT = "mlflow.project.entryPoint"
TAG_COMMIT = "mlflow.source.git.commit"
TAG_REUSED = "mediumnet.reused_run"
TAG_SOURCE = "mediumnet.source"
TAG_STEP_RUN_PREFIX = "mediumnet.step_run."
"""``mediumnet.step_run.<entry point>``: the child run of each step, on the parent run."""
