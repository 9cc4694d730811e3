"""The champion: which ensemble to serve, and which branch models to stack by default.

The alias ``champion`` moves to a new ensemble only if its selection score — a macro-F1 on the
validation works, never on the test split — is at least the champion's on the same works.
Branch models to stack default to those trained on the same data set: the ``champion``
version, else the newest not collapsed, else the newest.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from mediumnet.errors import MediumnetError
from mediumnet.labels import MEDIUMS
from mediumnet.names import (
    ENSEMBLE,
    TAG_DATASET_DIGEST,
    TAG_ENSEMBLE_KIND,
    TAG_ENSEMBLE_VERSION,
    TAG_PROMOTABLE,
    TAG_PROMOTED,
    TAG_PROMOTION_REASON,
    TAG_SELECTION_MACRO_F1,
    TAG_TEST_MACRO_F1,
    TAG_TEST_SPLIT,
    TAG_VAL_SPLIT,
)


def split_digest(works: pd.DataFrame) -> str:
    """Identify a split by its works, their labels and image bytes."""
    keys = sorted(f"{r.id}|{r.label}|{r.sha256}" for r in works.itertuples())
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def default_branch_uri(kind: str, dataset_digest: str) -> tuple[str, str] | None:
    """Choose the branch model to stack when none is named: trained on this dataset, champion first.

    Among the versions of ``mediumnet-<kind>`` tagged with ``dataset_digest``: the one with
    the ``champion`` alias, else the newest promotable (not collapsed) one, else the newest.

    Returns
    -------
    (str, str) or None
        The ``models:/`` URI and the version; None when no version was trained on this data.
    """
    from mlflow import MlflowClient

    from mediumnet.registry import CHAMPION, model_name, model_uri

    client = MlflowClient()
    name = model_name(kind)
    versions = [v for v in client.search_model_versions(f"name = '{name}'")
                if v.tags.get(TAG_DATASET_DIGEST) == dataset_digest]
    if not versions:
        return None
    champion = [v for v in versions if CHAMPION in (getattr(v, "aliases", None) or [])]
    chosen = champion[0] if champion else max(
        versions, key=lambda v: (v.tags.get(TAG_PROMOTABLE) != "false", int(v.version)))
    return model_uri(kind, version=int(chosen.version)), str(chosen.version)


def resolve_version(uri: str) -> str:
    """``models:/name/3`` → ``3``; ``models:/name@alias`` → the version it points at; else ''."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if not uri.startswith("models:/"):
        return ""
    ref = uri[len("models:/"):]
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            return str(MlflowClient().get_model_version_by_alias(name, alias).version)
        name, _, version = ref.partition("/")
        return version if version.isdigit() else ""
    except MlflowException:
        return ""


def promote_if_better(version: str, selection_f1: float, digest: str,
                      val_sources: list[str], y_val: np.ndarray,
                      classes: tuple[str, ...] = MEDIUMS) -> tuple[bool, str, float]:
    """Move ``champion`` to ``version`` if its selection score is at least the champion's.

    The selection score is a macro-F1 on the validation works, never on the test split. The
    comparison is made on the same validation works: the champion's recorded selection score
    when it was measured on the same works (same ids, labels and image bytes), else the
    champion is scored on ``val_sources`` now.

    Parameters
    ----------
    version : str
        The new ensemble version.
    selection_f1 : float
        Its out-of-fold macro-F1 on the validation works.
    digest : str
        Identifies those works (:func:`split_digest`).
    val_sources, y_val : list of str, numpy.ndarray
        Their image paths and class indices, to score a champion measured elsewhere.
    classes : tuple of str
        The mediums scored.

    Returns
    -------
    (bool, str, float)
        Promoted or not, why, and the champion's score it was compared with (NaN when
        there was no champion).
    """
    from mediumnet.ensemble.model import load_classifier
    from mediumnet.metrics import scores
    from mediumnet.registry import CHAMPION, model_uri, set_alias, version_by_alias

    try:
        current = version_by_alias(ENSEMBLE, CHAMPION)
    except MediumnetError:
        set_alias(ENSEMBLE, CHAMPION, version)
        return True, "no champion yet", float("nan")
    if str(current.version) == str(version):
        return True, "already champion", selection_f1
    if (current.tags.get(TAG_VAL_SPLIT) == digest
            and TAG_SELECTION_MACRO_F1 in current.tags):
        champion_f1 = float(current.tags[TAG_SELECTION_MACRO_F1])
        # Recorded to 6 decimals: an equal score must not lose to its own rounding.
        selection_f1 = round(selection_f1, 6)
        how = "its recorded score on the same validation works"
    else:
        probs, errors = load_classifier(model_uri(ENSEMBLE, version=int(current.version))
                                        ).predict_proba(val_sources)
        ok = np.array([e is None for e in errors], bool)
        champion_f1 = scores(y_val[ok], probs[ok], classes)["macro_f1"] if ok.any() else 0.0
        how = "re-evaluated on these validation works"
    promoted = selection_f1 >= champion_f1
    if promoted:
        set_alias(ENSEMBLE, CHAMPION, version)
    reason = (f"selection macro-F1 {selection_f1:.4f} {'>=' if promoted else '<'} champion v"
              f"{current.version}'s {champion_f1:.4f} ({how})")
    return promoted, reason, champion_f1


def register_and_promote(model_uri: str, kind: str, selection: float, test_macro_f1: float,
                         val: pd.DataFrame, y_val: np.ndarray, test: pd.DataFrame, root: Path,
                         tags: dict[str, str], classes: tuple[str, ...]
                         ) -> tuple[str, bool, str]:
    """Register the kept ensemble with its lineage; move ``champion`` on the selection score.

    Parameters
    ----------
    model_uri : str
        The logged ensemble.
    kind : str
        ``stack``, or the branch registered alone.
    selection, test_macro_f1 : float
        Its selection score on the validation works and its test macro-F1 (reported only).
    val, y_val, test : pandas.DataFrame, numpy.ndarray, pandas.DataFrame
        The validation works and their class indices, the test works.
    root : pathlib.Path
        The data set.
    tags : dict
        Lineage tags of the version.
    classes : tuple of str
        The mediums scored.

    Returns
    -------
    (str, bool, str)
        The version, whether it is now champion, and why.
    """
    import mlflow

    from mediumnet.registry import register as register_model
    from mediumnet.registry import set_version_tag

    val_digest = split_digest(val)
    tags = {**tags, TAG_VAL_SPLIT: val_digest, TAG_SELECTION_MACRO_F1: f"{selection:.6f}",
            TAG_TEST_SPLIT: split_digest(test), TAG_ENSEMBLE_KIND: kind,
            TAG_TEST_MACRO_F1: f"{test_macro_f1:.6f}"}
    version = str(register_model(model_uri, ENSEMBLE, tags=tags).version)
    promoted, reason, champion_f1 = promote_if_better(
        version, selection, val_digest, [str(root / p) for p in val["image_path"]], y_val,
        classes)
    if not np.isnan(champion_f1):
        mlflow.log_metric("champion_selection_macro_f1", champion_f1)
    mlflow.set_tags({TAG_PROMOTED: str(promoted).lower(),
                     TAG_PROMOTION_REASON: reason,
                     TAG_ENSEMBLE_VERSION: version})
    set_version_tag(ENSEMBLE, version, TAG_PROMOTED, str(promoted).lower())
    return version, promoted, reason
