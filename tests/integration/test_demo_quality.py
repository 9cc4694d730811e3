"""On the synthetic set the data was designed for it: the stack beats each branch alone."""

import pytest

from mediumnet.config import load_config
from mediumnet.data.splits import run_split
from mediumnet.data.synth import run_synth
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
    assert table["stack"] > max(table["composition"], table["texture"]), table
    assert table["stack"] > table["blend"], table
    assert stack_verdict(workdir / "demo" / "stack" / "table.csv").startswith(
        "The stack beats every branch alone")
