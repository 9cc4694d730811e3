"""The MLflow project's entry points and their parameters: one table, everything derived.

:data:`ENTRY_POINTS` is the only place an entry point's parameters are stated. The
``MLproject`` file is rendered from it (:func:`render_mlproject`; a test holds the file equal
to the rendering), every ``mlproject/`` shim turns its parameters into a ``mediumnet`` command
line with :func:`to_cli_args`, and the multistep ``main`` plans its steps with
:func:`step_parameters`. Every entry point but ``label`` (a merge uses no settings) takes
``preset`` and ``set`` (overrides such as ``data.val_fraction=0.2 train.seed=1``, separated by
spaces or semicolons).

Regenerate the file after changing the table::

    python -m mediumnet.entry_points > MLproject
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mediumnet.branches import BRANCHES, KerasBranch, keras_branches


@dataclass(frozen=True)
class Param:
    """One entry-point parameter and how it becomes words of a ``mediumnet`` command.

    ``kind``: ``argument`` (positional), ``option`` (``--flag value``, left out when empty or
    0), ``override`` (``--set key=value``, left out when empty or 0; ``{branch}`` in the key is
    the training branch), ``switch`` (``auto``/``on``/``off`` → nothing/``--flag``/
    ``--no-flag`` when ``negatable``, else nothing), ``repeated`` (values separated by
    semicolons, each ``--flag value``: ``label=Medium;path=Image File``) or ``overrides`` (the
    ``set`` parameter: several ``--set``).
    """

    name: str
    default: str | float = ""
    type: str = "string"
    kind: str = "option"
    target: str = ""
    """The option (``--val``) or the setting (``data.val_fraction``) it fills."""
    negatable: bool = False
    """A switch whose ``off`` is said (``--no-flag``) rather than left to the default."""


def _common(preset: str = "seed") -> tuple[Param, ...]:
    return (Param("preset", preset, kind="option", target="--preset"),
            Param("set", "", kind="overrides"))


def _train(branch: KerasBranch) -> EntryPoint:
    """Return the entry point ``train_<branch>`` with the parameters its branch names."""
    extra = tuple(Param(name, default, kind_of, "override", target)
                  for name, default, kind_of, target in branch.entry_params)
    return EntryPoint(f"train_{branch.name}", ("train", branch.name),
                      (Param("dataset_dir", "data/synth", kind="argument"), *_common(), *extra),
                      doc=branch.entry_doc, fixed=("--quiet",))


def _stack_params() -> tuple[Param, ...]:
    """One parameter per branch: a model URI (Keras branches) or a switch (fitted ones)."""
    return tuple(
        Param(b.name, "auto", kind="switch", target=f"--{b.name}", negatable=True)
        if b.stacking == "switch" else Param(b.name, "", target=f"--{b.name}")
        for b in BRANCHES.values())


def _main() -> EntryPoint:
    """Return the multistep ``main``: ``with_<branch>`` for each branch not always trained."""
    optional = [b for b in keras_branches() if b.stacking == "when_trained"]
    chain = " -> ".join(["synth (or harvest)", "split", "explore",
                         *(f"train_{b.name}" for b in keras_branches()), "stack", "evaluate"])
    from mediumnet.config import PRESETS

    def auto(branch: KerasBranch) -> str:
        off = [p for p in PRESETS if not branch.in_workflow(p)]
        return f"off in the {' and '.join(off)} presets" if off else "on"

    withs = "; ".join(f"with_{b.name}: auto ({auto(b)}), true or false" for b in optional)
    return EntryPoint("main", (), (
        Param("source", "synth"), Param("dataset_dir", "data/synth"),
        Param("preset", "demo"), *(Param(f"with_{b.name}", "auto") for b in optional),
        Param("src", ""), Param("columns", ""), Param("limit", 0.0, "float"),
        Param("set", "")),
        doc=f"The whole chain as nested runs under one parent: {chain}. A step that already "
            "finished with the same parameters, code version and data is reused. source: "
            "synth, artsy, met, artic or folder (src: the folder or CSV; columns: as harvest's; "
            "limit 0 = all); "
            f"{withs}; set: overrides passed to every step.")


@dataclass(frozen=True)
class EntryPoint:
    """An MLproject entry point: the ``mediumnet`` command it runs and its parameters."""

    name: str
    command: tuple[str, ...]
    params: tuple[Param, ...]
    doc: str = ""
    fixed: tuple[str, ...] = field(default_factory=tuple)
    """Words always added (``--quiet`` for steps whose progress bars fill logs)."""


ENTRY_POINTS: dict[str, EntryPoint] = {e.name: e for e in (
    _main(),
    EntryPoint("synth", ("synth",), (
        Param("dataset_dir", "data/synth", kind="argument"), *_common(),
        Param("per_class", 0.0, "float", target="--per-class"),
        Param("size", "", target="--size"), Param("seed", 0.0, "float", target="--seed"),
        Param("mediums", "", target="--mediums")),
        doc="per_class 0, size '' and mediums '' keep the preset's."),
    EntryPoint("harvest", ("harvest",), (
        Param("source", "artic", kind="argument"),
        Param("dataset_dir", "data/harvest", kind="argument"), *_common(),
        Param("limit", 0.0, "float", target="--limit"),
        Param("api_url", "", target="--api-url"), Param("src", "", target="--from"),
        Param("columns", "", kind="repeated", target="--column"),
        Param("keep_unlabelled", "false", kind="switch", target="--keep-unlabelled")),
        doc="source: artsy | met | artic | folder. limit 0 = everything; api_url '' = the "
            "source's public API; src = the folder or CSV (folder source only); columns = a "
            "CSV's own headers, FIELD=HEADER separated by semicolons (label=Medium;path=Image "
            "File); "
            "keep_unlabelled: keep the works whose record names no medium that maps. Artsy "
            "credentials come from ARTSY_CLIENT_ID / ARTSY_CLIENT_SECRET."),
    EntryPoint("split", ("split",), (
        Param("dataset_dir", "data/synth", kind="argument"), *_common(),
        Param("val", "", target="--val"), Param("test", "", target="--test"),
        Param("seed", "", target="--seed"), Param("min_groups", "", target="--min-groups"),
        Param("reshuffle", "false", kind="switch", target="--reshuffle")),
        doc="val, test, seed, min_groups '' keep the preset's; works keep their split unless "
            "reshuffle is true."),
    EntryPoint("explore", ("explore",), (
        Param("dataset_dir", "data/synth", kind="argument"), *_common(),
        Param("sample", 0.0, "float", target="--sample")),
        doc="sample 0 = every work."),
    *(_train(b) for b in keras_branches()),
    EntryPoint("stack", ("stack",), (
        Param("dataset_dir", "data/synth", kind="argument"), *_common(), *_stack_params(),
        Param("meta_learner", "", kind="override", target="ensemble.meta_learner")),
        doc="Empty URIs: the branch models trained on dataset_dir (champion, else newest "
            "promotable). A fitted branch: auto (the preset's), on or off; meta_learner: '' "
            "(the preset's), auto, logistic or boosting.",
        fixed=("--quiet",)),
    EntryPoint("evaluate", ("evaluate",), (
        Param("model_uri", "models:/mediumnet-ensemble@champion", kind="argument"),
        Param("dataset_dir", "data/synth", kind="argument"), *_common(),
        Param("split", "test", target="--split")),
        doc="split: train, val, test, or all (every labelled work: a data set never split)."),
    EntryPoint("audit", ("audit",), (
        Param("dataset_dir", "data/synth", kind="argument"), *_common(),
        Param("folds", 5.0, "float", target="--folds")),
        doc="Every labelled work judged by models that never saw it or its artist; the "
            "doubtful ones flagged (DATASET_DIR/audit/).", fixed=("--quiet",)),
    EntryPoint("classify", ("classify",), (
        Param("dataset_dir", "data/synth", kind="argument"), *_common(),
        Param("model_uri", "", target="--model"),
        Param("precision", 0.95, "float", target="--precision"),
        Param("threshold", "", target="--threshold")),
        doc="A medium for every unlabelled work, abstaining below the threshold chosen on "
            "val for precision (threshold '' = choose). model_uri '' = the champion."),
    EntryPoint("suggest", ("suggest",), (
        Param("dataset_dir", "data/synth", kind="argument"), *_common(),
        Param("budget", 50.0, "float", target="--budget"),
        Param("doubtful", "false", kind="switch", target="--doubtful")),
        doc="The budget works to label next, as a sheet to fill in (DATASET_DIR/suggest/); "
            "doubtful: the last audit's flags are candidates too.", fixed=("--quiet",)),
    EntryPoint("label", ("label",), (
        Param("dataset_dir", "data/synth", kind="argument"),
        Param("table", "", target="--from"),
        Param("column", "label", target="--column")),
        doc="A filled sheet taken back: the works it names get the mediums in its column "
            "(label: a curator's; suggested_label: the answers a classify or audit table stands "
            "behind). table: the CSV. No preset or set: a merge uses no settings."),
)}
"""Entry point name → its command and parameters, in the order of the chain."""

_ON = ("on", "true", "1", "yes")


def _empty(value: str) -> bool:
    text = str(value).strip()
    return text in ("", "''", '""') or _is_zero(text)


def _is_zero(text: str) -> bool:
    try:
        return float(text) == 0
    except ValueError:
        return False


def _word(value: str, param: Param) -> str:
    """Write a float that holds a whole number as an integer (MLflow passes 40 as 40.0)."""
    if param.type == "float" and float(value) == int(float(value)):
        return str(int(float(value)))
    return str(value)


def to_cli_args(name: str, values: Mapping[str, str]) -> list[str]:
    """Turn an entry point's parameter values into ``mediumnet`` command-line words.

    Raises
    ------
    KeyError
        If ``name`` is not an entry point.
    """
    entry = ENTRY_POINTS[name]
    branch = entry.command[-1] if entry.command[:1] == ("train",) else ""
    words = list(entry.command)
    options: list[str] = []
    for param in entry.params:
        value = str(values.get(param.name, param.default))
        if param.kind == "argument":
            words.append(value)
        elif param.kind == "switch":
            choice = value.strip().lower()
            if choice in _ON:
                options.append(param.target)
            elif choice in ("off", "false", "0", "no") and param.negatable:
                options.append("--no-" + param.target.removeprefix("--"))
        elif _empty(value):
            continue
        elif param.kind == "option":
            options += [param.target, _word(value, param)]
        elif param.kind == "override":
            options += ["--set", f"{param.target.format(branch=branch)}={_word(value, param)}"]
        elif param.kind == "repeated":
            for item in filter(None, (part.strip() for part in value.split(";"))):
                options += [param.target, item]
        elif param.kind == "overrides":
            for assignment in value.replace(";", " ").split():
                options += ["--set", assignment]
    return words + options + list(entry.fixed)


def step_parameters(name: str, **values: object) -> dict[str, str]:
    """Every parameter of an entry point as the string ``mlflow run`` passes: given or default."""
    entry = ENTRY_POINTS[name]
    unknown = set(values) - {p.name for p in entry.params}
    if unknown:
        raise KeyError(f"{name} has no parameters {sorted(unknown)}")
    return {p.name: str(values.get(p.name, p.default)) for p in entry.params}


def render_mlproject() -> str:
    """Return the text of the ``MLproject`` file, rendered from :data:`ENTRY_POINTS`."""
    lines = ["# Rendered from mediumnet/entry_points.py by `python -m mediumnet.entry_points`:",
             "# edit the table there, not this file (a test holds the two equal).",
             "name: mediumnet", "",
             "# Environment for `mlflow run .` (conda). Inside an environment where mediumnet "
             "is already", "# installed (no conda), add `--env-manager local`.",
             "conda_env: conda.yaml", "", "entry_points:"]
    for entry in ENTRY_POINTS.values():
        lines.append(f"  {entry.name}:")
        if entry.doc:
            lines += _wrap(entry.doc, "    # ")
        lines.append("    parameters:")
        for p in entry.params:
            default = p.default if p.type == "float" else f'"{p.default}"'
            lines.append(f"      {p.name}: {{type: {p.type}, default: {default}}}")
        shim = "main" if entry.name == "main" else entry.name.split("_")[0]
        words = " ".join(f"--{p.name} {{{p.name}}}" for p in entry.params)
        lines.append("    command: >-")
        lines += _wrap(f"python mlproject/{shim}.py {entry.name} {words}", "      ")
        lines.append("")
    return "\n".join(lines)


def _wrap(text: str, prefix: str, width: int = 96) -> list[str]:
    out, line = [], ""
    for word in text.split():
        if line and len(prefix) + len(line) + 1 + len(word) > width:
            out.append(prefix + line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*out, prefix + line] if line else out


if __name__ == "__main__":
    print(render_mlproject(), end="")
