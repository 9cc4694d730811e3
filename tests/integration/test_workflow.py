"""The multistep workflow's reuse decision on a real store: what makes ``main`` run a step again."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from mediumnet.config import SynthConfig
from mediumnet.data.labelling import merge_labels
from mediumnet.data.manifest import read_manifest, write_manifest
from mediumnet.data.splits import splits
from mediumnet.data.synth import synthesize
from mediumnet.entry_points import step_parameters
from mediumnet.names import TAG_ENTRY_POINT
from mediumnet.workflow import _reusable

pytestmark = pytest.mark.integration


def test_a_split_with_unlabelled_works_outside_it_is_reused_until_a_work_is_labelled(
        workdir):
    root = workdir / "ds"
    synthesize(root, SynthConfig(per_class=8, width=320, height=240, seed=6, workers=1,
                                 artists_per_class=4), progress=False)
    manifest = read_manifest(root)
    kept = manifest["id"].iloc[:2].tolist()         # as harvest.keep_unlabelled keeps them
    manifest.loc[manifest["id"].isin(kept), ["label", "label_reason"]] = ["", "no label given"]
    write_manifest(root, splits(manifest, val=0.25, test=0.25))
    params = step_parameters("split", dataset_dir=str(root), preset="tiny")
    mlflow.set_experiment("mediumnet")
    with mlflow.start_run(tags={TAG_ENTRY_POINT: "split"}) as run:    # as `mlflow run` logs it
        mlflow.log_params(params)
    experiment = run.info.experiment_id

    # The unlabelled works stay outside every split by design: `main` reuses the split.
    assert (read_manifest(root).set_index("id").loc[kept, "split"] == "").all()
    reused = _reusable("split", params, root, None, experiment)
    assert reused is not None and reused.info.run_id == run.info.run_id

    # A curator labels one of them: it has no split yet, so the split runs again.
    pd.DataFrame({"id": [kept[0]], "label": ["painting"]}).to_csv(workdir / "sheet.csv",
                                                                   index=False)
    assert merge_labels(root, workdir / "sheet.csv").labelled == 1
    assert _reusable("split", params, root, None, experiment) is None
