"""On the synthetic set the data was designed for it: the stack beats each branch alone."""

import pytest

from mediumnet.config import load_config
from mediumnet.prepare import run_split, run_synth
from mediumnet.stacking import stack
from mediumnet.train import train_branch
from mediumnet.workflow import stack_verdict

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_with_the_demo_preset_the_stack_beats_every_branch(workdir):
    # The demo chain without its EfficientNet (untrained in the demo, it adds nothing).
    config = load_config("demo")
    run_synth("demo", config, progress=False)
    run_split("demo", config)
    for branch in ("composition", "texture"):
        train_branch("demo", branch, config, progress=False)
    result = stack("demo", config, effnet="none", progress=False)
    table = result.table["macro_f1"]
    assert table["stack"] > max(table["composition"], table["texture"]), result.table
    # Stack or blend is a choice made on validation works (out-of-fold for the stack), never
    # on test: on 34 test works one work is three points, and CPU training is not repeatable.
    selection = result.table["val_macro_f1"]
    assert selection["stack"] > selection["blend"], result.table
    assert stack_verdict(workdir / "demo" / "stack" / "table.csv").startswith(
        "The stack beats every branch alone")
