"""The README's examples work as written, and its CLI reference lists every command."""

import re
import subprocess
import sys

import click
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration

README = (REPO / "README.md").read_text()


@pytest.mark.slow
def test_python_examples_run_in_order(workdir):
    code = "\n".join(re.findall(r"```python\n(.*?)```", README, re.S))
    code += "\nassert len(frame) == 20 and set(frame['label']) == set(MEDIUMS)\n"
    code += "assert view.shape == (320, 320, 3) and tiles.shape == (8, 320, 320, 3)\n"
    code += "assert list(result.table.index) == ['composition', 'texture', 'features', "
    code += "'embedding', 'blend', 'stack']\n"
    code += "assert answers['error'][:2].isna().all() and answers['label'][0] in MEDIUMS\n"
    code += "assert 'no such image file' in answers['error'][2]\n"
    code += "assert list(table.index) == scans[:5] and table['error'].isna().all()\n"
    code += "assert len(audit.table) == 40 and set(audit.table['label']) <= set(MEDIUMS)\n"
    code += "assert len(classified.table) == 20 and merge.labelled == 5\n"
    code += "from mediumnet.data.manifest import read_manifest, unlabelled\n"
    code += "assert len(unlabelled(read_manifest('data/mine'))) == 15\n"
    script = workdir / "readme_chain.py"  # saved and run as a user would: no main guard
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], cwd=workdir, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
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


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_the_cli_reference_lists_every_command_and_option():
    from mediumnet.cli import cli

    rows = {}
    for line in README.splitlines():
        found = re.match(r"\| `mediumnet ([a-z ]+?)(?: [A-Z_]+…?)*` \|", line)
        if found:
            rows[found.group(1)] = line
    listed = set()
    for path, command in _commands(cli):
        name = " ".join(path)
        assert name in rows, f"`mediumnet {name}` is missing from the README's CLI reference"
        listed.add(name)
        for param in command.params:
            if isinstance(param, click.Option):
                for flag in param.opts + param.secondary_opts:
                    if flag.startswith("--") and flag != "--help":
                        assert f"`{flag}" in rows[name], f"{flag} of `mediumnet {name}`"
    assert set(rows) == listed, "the README lists a command that does not exist"


def test_every_entry_point_and_parameter_is_documented():
    import yaml

    project = yaml.safe_load((REPO / "MLproject").read_text())
    section = README.split("## The MLflow project", 1)[1].split("\n## ", 1)[0]
    for name, entry in project["entry_points"].items():
        row = next((line for line in section.splitlines() if line.startswith("|")
                    and f"`{name}`" in line.split("|")[1]), None)
        assert row, f"entry point {name} is not in the README's table"
        for parameter in entry.get("parameters", {}):
            assert f"`{parameter}`" in row, f"{name}: {parameter}"


def test_mlproject_is_rendered_from_the_one_parameter_table():
    from mediumnet.entry_points import ENTRY_POINTS, render_mlproject

    assert (REPO / "MLproject").read_text() == render_mlproject(), (
        "MLproject differs from mediumnet/entry_points.py: run "
        "`python -m mediumnet.entry_points > MLproject`")
    for name, entry in ENTRY_POINTS.items():
        if name != "label":                     # a merge uses no settings
            assert {"preset", "set"} <= {p.name for p in entry.params}, name
        shim = REPO / "mlproject" / f"{'main' if name == 'main' else name.split('_')[0]}.py"
        assert "run_entry_point()" in shim.read_text(), shim


def test_entry_point_parameters_become_the_documented_command_lines():
    from mediumnet.entry_points import step_parameters, to_cli_args

    assert to_cli_args("split", step_parameters(
        "split", dataset_dir="ds", preset="tiny", set="data.split_seed=3;train.seed=1")) == [
        "split", "ds", "--preset", "tiny", "--set", "data.split_seed=3", "--set",
        "train.seed=1"]
    assert to_cli_args("train_texture", {"dataset_dir": "ds", "epochs": "3.0"}) == [
        "train", "texture", "ds", "--preset", "seed", "--set", "texture.epochs=3", "--quiet"]
    assert to_cli_args("stack", {"dataset_dir": "ds", "features": "off", "effnet": "none",
                                 "meta_learner": "boosting"}) == [
        "stack", "ds", "--preset", "seed", "--effnet", "none", "--no-features", "--set",
        "ensemble.meta_learner=boosting", "--quiet"]
    assert to_cli_args("harvest", {"source": "folder", "dataset_dir": "ds", "src": "a.csv",
                                   "limit": "0"}) == [
        "harvest", "folder", "ds", "--preset", "seed", "--from", "a.csv"]
    assert to_cli_args("harvest", {"source": "folder", "dataset_dir": "ds", "src": "a.csv",
                                   "columns": "label=Medium; path=Image File;"}) == [
        "harvest", "folder", "ds", "--preset", "seed", "--from", "a.csv", "--column",
        "label=Medium", "--column", "path=Image File"]
