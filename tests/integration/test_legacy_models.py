"""Models saved before branches were plug-ins still load, predict and serve (issue 22).

``tests/fixtures/models_v1`` holds an ensemble, a features-only ensemble and a texture branch
model saved by the earlier code, with the probabilities that code gave on four images. Today's
code must give the same probabilities: in this process (``mediumnet.load_model``, the pyfunc,
``mediumnet predict``), registered in a store, and from a real ``mlflow models serve``.
"""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pytest

from mediumnet.labels import MEDIUMS
from tests.conftest import REPO
from tests.integration.conftest import MLFLOW_VARS, serve_model

pytestmark = [pytest.mark.integration]

LEGACY = REPO / "tests" / "fixtures" / "models_v1"
EXPECTED = json.loads((LEGACY / "expected.json").read_text())
IMAGES = [str(LEGACY / "images" / f"work{i}.jpg") for i in range(4)]


@pytest.mark.parametrize("name", ["stack", "features_only", "texture_branch"])
def test_a_legacy_model_gives_the_same_probabilities_in_process(name):
    from mediumnet.ensemble.model import load_classifier

    classifier = load_classifier(str(LEGACY / name))
    probs, errors = classifier.predict_proba(IMAGES)
    assert errors == [None] * 4
    assert np.allclose(probs, np.array(EXPECTED[name]), atol=1e-6)


def test_a_legacy_stack_keeps_its_branches_in_their_order():
    from mediumnet.ensemble.model import load_classifier

    stacked = load_classifier(str(LEGACY / "stack"))
    assert stacked.branch_names == ["composition", "texture", "features"]
    assert stacked.meta is not None and not stacked.meta_features
    alone = load_classifier(str(LEGACY / "features_only"))
    assert alone.branch_names == ["features"] and alone.meta is None


def test_a_legacy_branch_model_loads_as_its_branch_and_no_other():
    from mediumnet.ensemble.model import load_branch
    from mediumnet.errors import MediumnetError

    texture = load_branch(str(LEGACY / "texture_branch"), "texture")
    assert texture.per_image == 2 and "branch" not in texture.settings
    with pytest.raises(MediumnetError, match="is a texture model, not a composition model"):
        load_branch(str(LEGACY / "texture_branch"), "composition")


@pytest.fixture(scope="module")
def legacy_store(tmp_path_factory):
    """A fresh store where the legacy ensemble is registered and champion, as it was."""
    home = tmp_path_factory.mktemp("legacy")
    with pytest.MonkeyPatch.context() as mp:
        for var in MLFLOW_VARS:
            mp.delenv(var, raising=False)
        mp.chdir(home)   # MLflow's embedded default store: ./mlflow.db, ./mlruns
        client = mlflow.MlflowClient()
        run = client.create_run(client.create_experiment("mediumnet"))
        client.log_artifacts(run.info.run_id, str(LEGACY / "stack"), "model")
        client.set_terminated(run.info.run_id)
        version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "mediumnet-ensemble")
        client.set_registered_model_alias("mediumnet-ensemble", "champion", version.version)
    yield home


def test_a_registered_legacy_ensemble_answers_mediumnet_predict(legacy_store, mediumnet_exe,
                                                                 monkeypatch):
    for var in MLFLOW_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(legacy_store)
    done = subprocess.run([mediumnet_exe, "predict", "--json", *IMAGES], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout)
    got = np.array([[row[f"p_{m}"] for m in MEDIUMS] for row in rows])
    assert np.allclose(got, np.array(EXPECTED["stack"]), atol=1e-6)


def test_a_registered_legacy_ensemble_is_served_by_mlflow_models_serve(legacy_store):
    rows = [{"image": base64.b64encode(Path(p).read_bytes()).decode()} for p in IMAGES]
    with serve_model(legacy_store, "models:/mediumnet-ensemble@champion") as url:
        request = urllib.request.Request(
            f"{url}/invocations", json.dumps({"dataframe_records": rows}).encode(),
            {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=300) as response:
            answer = json.loads(response.read())["predictions"]
    got = np.array([[row[f"p_{m}"] for m in MEDIUMS] for row in answer])
    assert [row["error"] for row in answer] == [None] * 4
    assert np.allclose(got, np.array(EXPECTED["stack"]), atol=1e-6)
