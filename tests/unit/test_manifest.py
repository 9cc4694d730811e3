import pandas as pd
import pytest

from mediumnet.data.manifest import (
    MANIFEST_COLUMNS,
    ensure_dataset_dir,
    manifest_digest,
    manifest_frame,
    manifest_path,
    read_manifest,
    upsert_manifest,
    write_manifest,
)
from mediumnet.errors import DatasetError


def _rows(ids, label="painting", split=""):
    return manifest_frame({"id": i, "source": "test", "label": label, "image_path": f"{i}.jpg",
                           "sha256": i * 4, "width": 10, "height": 10, "bytes": 1,
                           "split": split} for i in ids)


def test_manifest_has_the_contract_columns_in_order(tmp_path):
    write_manifest(tmp_path, _rows(["a", "b"]))
    frame = pd.read_parquet(manifest_path(tmp_path))
    assert list(frame.columns) == list(MANIFEST_COLUMNS)
    assert list(MANIFEST_COLUMNS)[:4] == ["id", "source", "label", "label_reason"]


def test_upsert_never_duplicates_and_keeps_other_rows_and_splits(tmp_path):
    upsert_manifest(tmp_path, _rows(["a", "b"], split="train"))
    upsert_manifest(tmp_path, _rows(["b", "c"], label="drawing"))
    frame = read_manifest(tmp_path)
    assert list(frame["id"]) == ["a", "b", "c"]
    assert dict(zip(frame["id"], frame["label"], strict=True)) == {
        "a": "painting", "b": "drawing", "c": "drawing"}
    assert dict(zip(frame["id"], frame["split"], strict=True)) == {
        "a": "train", "b": "train", "c": ""}


def test_invalid_rows_leave_the_old_manifest_untouched(tmp_path):
    write_manifest(tmp_path, _rows(["a"]))
    before = manifest_path(tmp_path).read_bytes()
    bad = _rows(["z"])
    bad["label"] = "sculpture"
    with pytest.raises(DatasetError, match="unknown labels \\['sculpture'\\]"):
        upsert_manifest(tmp_path, bad)
    assert manifest_path(tmp_path).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.parquet"]


def test_duplicate_ids_are_refused():
    with pytest.raises(DatasetError, match="duplicate ids, e.g. 'a'"):
        _rows(["a", "a"])


def test_missing_and_damaged_manifests_are_one_line_errors(tmp_path):
    with pytest.raises(DatasetError, match="no manifest at .*mediumnet synth or mediumnet harvest"):
        read_manifest(tmp_path)
    manifest_path(tmp_path).write_bytes(b"not parquet")
    with pytest.raises(DatasetError, match="cannot read manifest .*: the file is damaged; move "
                       "it aside .* and build it again with mediumnet synth or mediumnet "
                       "harvest$"):    # no logs in raw/ to build it from: the steps named
        read_manifest(tmp_path)
    pd.DataFrame({"id": ["a"], "label": ["painting"]}).to_parquet(manifest_path(tmp_path))
    with pytest.raises(DatasetError, match="lacks columns \\['source', .*: it is not one "
                       "mediumnet wrote; move it aside"):
        read_manifest(tmp_path)


def test_digest_ignores_row_order_but_not_content():
    a = _rows(["a", "b"])
    assert manifest_digest(a) == manifest_digest(a.iloc[::-1])
    changed = a.copy()
    changed.loc[0, "label"] = "drawing"
    assert manifest_digest(changed) != manifest_digest(a)
    assert len(manifest_digest(a)) == 16


def test_dataset_dir_under_a_file_is_refused(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DatasetError, match="cannot write to dataset folder .*choose a folder"):
        ensure_dataset_dir(tmp_path / "file.txt" / "ds")
    with pytest.raises(DatasetError, match="is a file, not a folder"):
        ensure_dataset_dir(tmp_path / "file.txt")
