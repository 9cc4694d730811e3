import numpy as np
import pandas as pd
import pytest

from mediumnet.data.splits import split_table, splits
from mediumnet.errors import DatasetError
from mediumnet.labels import MEDIUMS


def _manifest(seed=0, unknown_share=0.2):
    rng = np.random.default_rng(seed)
    rows = []
    for medium, n in zip(MEDIUMS, (400, 250, 300, 120, 200), strict=True):
        for i in range(n):
            artist = "" if rng.uniform() < unknown_share else \
                f"{medium}-{int(rng.pareto(1.2) * 3)}"
            rows.append({"id": f"{medium}:{i}", "label": medium, "artist": artist})
    return pd.DataFrame(rows)


def test_no_artist_in_two_splits_and_proportions_hold():
    result = splits(_manifest(), val=0.15, test=0.15, seed=0)
    known = result[result["artist"] != ""]
    assert (known.groupby("artist")["split"].nunique() == 1).all()
    shares = split_table(result).div(split_table(result).sum(axis=1), axis=0)
    assert np.allclose(shares["val"], 0.15, atol=0.03)
    assert np.allclose(shares["test"], 0.15, atol=0.03)
    assert set(result["split"]) == {"train", "val", "test"}


def test_deterministic_and_seeded():
    a = splits(_manifest(), seed=3)["split"]
    b = splits(_manifest(), seed=3)["split"]
    c = splits(_manifest(), seed=4)["split"]
    assert a.equals(b)
    assert not a.equals(c)


def test_unknown_artists_are_their_own_groups_and_names_are_normalised():
    frame = pd.DataFrame({"id": [f"w{i}" for i in range(40)], "label": ["painting"] * 40,
                          "artist": ["Anonymous"] * 20 + [" Rembrandt", "rembrandt "] * 10})
    result = splits(frame, val=0.2, test=0.2)
    assert result.loc[20:, "split"].nunique() == 1            # one artist, one split
    assert result.loc[:19, "split"].nunique() == 3            # unknowns spread freely


@pytest.mark.parametrize(("val", "test"), [(0.5, 0.5), (-0.1, 0.2), (0.2, 1.0)])
def test_bad_fractions(val, test):
    with pytest.raises(DatasetError, match="something is left to train on"):
        splits(_manifest(), val=val, test=test)


def test_empty_manifest():
    with pytest.raises(DatasetError, match="no works to split"):
        splits(pd.DataFrame(columns=["id", "label", "artist"]))
