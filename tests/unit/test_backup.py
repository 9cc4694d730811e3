"""A training killed while its backup was being written still resumes, and says how."""

import contextlib
import json
import logging

from mediumnet.train.backup import (
    METADATA,
    PREVIOUS,
    WEIGHTS,
    keep_run_id,
    kept_run_id,
    resume_epoch,
)


def backup(folder, epoch, *, cut=False, earlier=None):
    """Write a backup folder as Keras leaves it: weights, metadata, the epoch before's copies."""
    folder.mkdir()
    (folder / WEIGHTS).write_bytes(b"weights of epoch %d" % epoch)
    (folder / METADATA).write_text("" if cut else json.dumps({"epoch": epoch, "batch": 0}))
    if earlier is not None:
        (folder / (WEIGHTS + PREVIOUS)).write_bytes(b"weights of epoch %d" % earlier)
        (folder / (METADATA + PREVIOUS)).write_text(json.dumps({"epoch": earlier, "batch": 0}))
    return folder


def test_a_whole_backup_resumes_after_its_epoch_and_none_starts_afresh(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="mediumnet"):
        assert resume_epoch(backup(tmp_path / "b", 3, earlier=2), "composition stage 1") == 3
        assert resume_epoch(tmp_path / "none", "composition stage 1") == 0
    assert (tmp_path / "b" / WEIGHTS).read_bytes() == b"weights of epoch 3"
    assert not caplog.records


def test_metadata_cut_by_the_kill_resumes_after_the_epoch_before(tmp_path, caplog):
    folder = backup(tmp_path / "b", 3, cut=True, earlier=2)
    with caplog.at_level(logging.WARNING, logger="mediumnet"):
        assert resume_epoch(folder, "effnet stage 2") == 2

    # What Keras reads next is the epoch before, whole: its weights with its metadata.
    assert json.loads((folder / METADATA).read_text())["epoch"] == 2
    assert (folder / WEIGHTS).read_bytes() == b"weights of epoch 2"
    [record] = caplog.records
    assert record.getMessage().startswith("effnet stage 2: the backup of its last epoch was "
                                          "cut off")
    assert "resuming after epoch 2, the one before" in record.getMessage()


def test_metadata_cut_with_no_epoch_before_starts_the_stage_again(tmp_path, caplog):
    folder = backup(tmp_path / "b", 1, cut=True)
    with caplog.at_level(logging.WARNING, logger="mediumnet"):
        assert resume_epoch(folder, "composition stage 1") == 0

    assert not folder.exists()   # Keras starts the stage from its first epoch
    assert "the stage starts again" in caplog.records[0].getMessage()


def test_keras_resumes_from_what_a_cut_backup_is_put_back_to(tmp_path):
    import keras
    import numpy as np

    from mediumnet.train.backup import backup_callback

    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")

    def model():
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        m.compile("sgd", "sparse_categorical_crossentropy")
        return m

    class KilledError(Exception):
        pass

    class KillAfterThirdEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise KilledError

    class Epochs(keras.callbacks.Callback):
        seen: list[int] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.seen.append(epoch)

    folder = tmp_path / "backup"
    with contextlib.suppress(KilledError):
        model().fit(x, y, epochs=4, verbose=0,
                    callbacks=[backup_callback(folder), KillAfterThirdEpoch()])
    (folder / METADATA).write_text('{"epo')   # the kill came as the metadata was written

    assert resume_epoch(folder, "composition stage 1") == 2
    model().fit(x, y, epochs=4, verbose=0, callbacks=[backup_callback(folder), Epochs()])
    assert Epochs.seen == [2, 3]   # Keras read the epoch before: the third is trained again


def test_the_run_a_restarted_training_goes_on_with_is_kept_whole_or_not_at_all(tmp_path):
    run_file = tmp_path / "mlflow_run_id"
    assert kept_run_id(run_file) is None   # never started: a new run

    keep_run_id(run_file, "0123456789abcdef0123456789abcdef")
    assert kept_run_id(run_file) == "0123456789abcdef0123456789abcdef"
    assert [f.name for f in tmp_path.iterdir()] == ["mlflow_run_id"]   # no part left behind

    run_file.write_text("")   # written in place and killed as it wrote (before this change)
    assert kept_run_id(run_file) is None   # a new run, with its settings logged
