"""Runs and the Model Registry on a real MLflow store: the embedded default, in a temp dir."""

import mlflow
import pandas as pd
import pytest
import yaml

from mediumnet.config import load_config
from mediumnet.errors import MediumnetError
from mediumnet.registry import (
    CHAMPION,
    ENSEMBLE_MODEL,
    model_uri,
    register,
    set_alias,
    version_by_alias,
)
from mediumnet.tracking import (
    EXPERIMENT,
    TAG_DATASET_DIGEST,
    TAG_STEP,
    TAG_VERSION,
    run_location,
    start_run,
    tracking_uri,
)

pytestmark = pytest.mark.integration


class ConstantModel(mlflow.pyfunc.PythonModel):
    """A stand-in ensemble that always answers the same medium."""

    def __init__(self, label):
        self.label = label

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return pd.DataFrame({"label": [self.label] * len(model_input)})


def test_default_store_is_mlflows_own_sqlite_in_the_working_directory(workdir):
    assert tracking_uri() == f"sqlite:///{workdir}/mlflow.db"
    with start_run("probe", config=load_config("demo"), dataset_digest="0123456789abcdef",
                   params={"extra": 1}) as run:
        location = run_location(run)
    assert (workdir / "mlflow.db").is_file()
    assert str(workdir / "mlruns") in run.info.artifact_uri
    assert f"stored in sqlite:///{workdir}/mlflow.db" in location

    stored = mlflow.get_run(run.info.run_id)
    assert mlflow.get_experiment(stored.info.experiment_id).name == EXPERIMENT
    assert stored.data.tags[TAG_STEP] == "probe"
    assert stored.data.tags[TAG_DATASET_DIGEST] == "0123456789abcdef"
    assert stored.data.tags[TAG_VERSION]
    assert stored.data.params["data.composition_size"] == "96"
    assert stored.data.params["composition.filters"] == "8,16,32"
    assert stored.data.params["extra"] == "1"
    config_yaml = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/config.yaml")
    assert yaml.safe_load(config_yaml)["preset"] == "demo"


def test_child_runs_nest_under_a_parent(workdir):
    with start_run("pipeline") as parent, start_run("synth") as child:
        assert child.info.run_id != parent.info.run_id
    stored = mlflow.get_run(child.info.run_id)
    assert stored.data.tags["mlflow.parentRunId"] == parent.info.run_id


def test_failed_step_marks_the_run_failed(workdir):
    with pytest.raises(MediumnetError), start_run("boom") as run:
        raise MediumnetError("bad input")
    assert mlflow.get_run(run.info.run_id).info.status == "FAILED"


def test_tracking_uri_from_the_environment_is_used_unchanged(workdir, monkeypatch):
    other = workdir / "server-store"
    other.mkdir()
    uri = f"sqlite:///{other}/tracking.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert tracking_uri() == uri
    with start_run("remote") as run:
        pass
    assert not (workdir / "mlflow.db").exists()
    assert (other / "tracking.db").is_file()
    assert mlflow.get_run(run.info.run_id).info.run_name == "remote"


def test_registry_registers_and_resolves_an_alias(workdir):
    with start_run("stack") as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=ConstantModel("drawing"),
                                       pip_requirements=[])
    version = register(info.model_uri, "ensemble", tags={"mediumnet.branches": "c1,t1"},
                       alias=CHAMPION)
    assert version.name == ENSEMBLE_MODEL == "mediumnet-ensemble"
    assert model_uri("ensemble") == "models:/mediumnet-ensemble@champion"

    model = mlflow.pyfunc.load_model("models:/mediumnet-ensemble@champion")
    assert list(model.predict(pd.DataFrame({"path": ["a.jpg", "b.jpg"]}))["label"]) == [
        "drawing", "drawing"]
    resolved = version_by_alias("ensemble")
    assert resolved.version == version.version
    assert resolved.tags["mediumnet.branches"] == "c1,t1"
    assert resolved.run_id == run.info.run_id

    with start_run("stack"):
        info2 = mlflow.pyfunc.log_model(name="model", python_model=ConstantModel("painting"),
                                        pip_requirements=[])
    second = register(info2.model_uri, "ensemble")
    assert version_by_alias("ensemble").version == version.version  # alias did not move
    set_alias("ensemble", CHAMPION, second.version)
    model = mlflow.pyfunc.load_model(model_uri("ensemble"))
    assert model.predict(pd.DataFrame({"path": ["a.jpg"]}))["label"][0] == "painting"


def test_missing_alias_and_unknown_kind_are_clear_errors(workdir):
    with pytest.raises(MediumnetError, match="no version of mediumnet-texture has the alias "
                       "'champion': train and register one first"):
        version_by_alias("texture")
    with pytest.raises(MediumnetError, match="unknown model kind 'vit'"):
        model_uri("vit")
