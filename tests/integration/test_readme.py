"""The README's examples work as written."""

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration

README = (REPO / "README.md").read_text()


def test_python_examples_run_in_order(workdir):
    code = "\n".join(re.findall(r"```python\n(.*?)```", README, re.S))
    code += "\nassert len(frame) == 20 and set(frame['label']) == set(MEDIUMS)\n"
    code += "assert view.shape == (320, 320, 3) and tiles.shape == (8, 320, 320, 3)\n"
    out = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert (workdir / "data" / "tiny" / "manifest.parquet").is_file()


def test_documented_map_record_answer_is_true():
    from mediumnet.labels import map_record

    assert repr(map_record("met", "Drawings", "Watercolor over graphite")) in README


def test_console_example_prints_what_the_readme_shows(workdir, mediumnet_exe):
    block = re.search(r"```console\n\$ (.*?)\n(.*?)\n```", README, re.S)
    command, expected = block.group(1), block.group(2)
    args = command.split()[1:]
    assert command.split()[0] == ".venv/bin/mediumnet"
    out = subprocess.run([mediumnet_exe, *args], cwd=workdir, capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.strip() == expected


def test_readme_shows_the_ci_test_command():
    assert "make test" in README
    assert "make test" in (REPO / ".ci" / "run").read_text()
