import configparser
import subprocess
import sys

import yaml

from tests.conftest import REPO


def _setup_requirements():
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    return [r.strip() for r in parser["options"]["install_requires"].splitlines() if r.strip()]


def test_conda_env_lists_the_same_dependencies_as_setup_cfg():
    env = yaml.safe_load((REPO / "conda.yaml").read_text())
    pip_section = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert [r for r in pip_section if r != "-e ."] == _setup_requirements()


def test_full_mlflow_not_skinny_is_required():
    names = [r.split(">")[0].split("=")[0].split("!")[0] for r in _setup_requirements()]
    assert "mlflow" in names and "mlflow-skinny" not in names


def test_import_mediumnet_is_light():
    code = ("import sys, mediumnet, mediumnet.config, mediumnet.labels, mediumnet.cli;"
            "heavy = [m for m in ('tensorflow', 'keras', 'mlflow', 'cv2', 'pandas', 'torch')"
            " if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_data_api_is_importable_from_the_package_without_tensorflow():
    code = ("import sys; from mediumnet.data import composition_view, texture_tiles, splits, "
            "make_dataset, class_weights; print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
