"""Figures go to PNG files and are freed, even when one cannot be saved."""

import pytest

from mediumnet.figures import pyplot, save_figure


def test_a_figure_is_saved_as_png_and_freed(tmp_path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])

    path = save_figure(fig, tmp_path / "line.png", dpi=50)

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.get_backend().lower() == "agg"
    assert fig.number not in plt.get_fignums()


def test_a_figure_that_cannot_be_saved_is_freed_all_the_same(tmp_path):
    plt = pyplot()
    fig, _ = plt.subplots()

    with pytest.raises(FileNotFoundError):
        save_figure(fig, tmp_path / "no such folder" / "chart.png")
    assert fig.number not in plt.get_fignums()
