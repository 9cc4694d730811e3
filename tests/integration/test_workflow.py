"""The multistep workflow's reuse decision on a real store: what makes ``main`` run a step again."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from mediumnet.config import SynthConfig, load_config
from mediumnet.data.labelling import merge_labels
from mediumnet.data.manifest import read_manifest, write_manifest
from mediumnet.data.splits import splits
from mediumnet.data.synth import synthesize
from mediumnet.entry_points import step_parameters
from mediumnet.names import TAG_ENTRY_POINT
from mediumnet.workflow import _reusable

pytestmark = pytest.mark.integration

CONFIG = load_config("tiny")


def _split_again(root) -> pd.Series:
    d = CONFIG.data
    write_manifest(root, splits(read_manifest(root), d.val_fraction, d.test_fraction,
                                d.split_seed, min_groups=d.min_groups))
    return read_manifest(root).set_index("id")["split"]


def test_the_split_is_reused_while_splitting_again_would_change_nothing(workdir):
    root = workdir / "ds"
    synthesize(root, SynthConfig(per_class=8, width=320, height=240, seed=6, workers=1,
                                 artists_per_class=4), progress=False)
    split = _split_again(root)
    in_test, in_train = split[split == "test"].index[0], split[split == "train"].index[0]
    manifest = read_manifest(root)
    kept = manifest["id"].isin([in_test, in_train])  # as harvest.keep_unlabelled keeps them
    manifest.loc[kept, ["label", "label_reason", "split"]] = ["", "no label given", ""]
    write_manifest(root, manifest)
    params = step_parameters("split", dataset_dir=str(root), preset="tiny")
    mlflow.set_experiment("mediumnet")
    with mlflow.start_run(tags={TAG_ENTRY_POINT: "split"}) as run:    # as `mlflow run` logs it
        mlflow.log_params(params)
    experiment = run.info.experiment_id

    def reused() -> bool:
        found = _reusable("split", params, root, None, experiment, CONFIG)
        return found is not None and found.info.run_id == run.info.run_id

    # Unlabelled works stay outside every split by design: `main` reuses the split.
    assert reused()

    # Both get a model's answer (classify's table, taken in by mediumnet label): the one by
    # an artist in train has no split yet, so the split runs again; then it trains and the
    # one whose artist is in test stays outside, which does not make the split look undone.
    pd.DataFrame({"id": [in_test, in_train], "suggested_label": ["painting", "drawing"],
                  "confidence": ["0.97", "0.91"], "abstained": ["False", "False"]}
                 ).to_csv(workdir / "classified.csv", index=False)
    assert merge_labels(root, workdir / "classified.csv", column="suggested_label").labelled == 2
    assert not reused()
    split = _split_again(root)
    assert (split[in_train], split[in_test]) == ("train", "")
    assert reused()

    # A curator gives the test artist's work its medium: it is measured against now, so it
    # joins its artist in test at the next split.
    pd.DataFrame({"id": [in_test], "label": ["painting"]}).to_csv(workdir / "sheet.csv",
                                                                 index=False)
    assert merge_labels(root, workdir / "sheet.csv").confirmed == 1    # the same medium,
    assert not reused()                                                 # a curator's now
    assert _split_again(root)[in_test] == "test"
    assert reused()
