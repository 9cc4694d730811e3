"""PyTorch weights files read without torch: tensors back exactly, code never run."""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest

from mediumnet.backbones.torch_file import (
    MAGIC_NUMBER,
    PROTOCOL_VERSION,
    WeightsFileError,
    read_state_dict,
)


@contextlib.contextmanager
def _fake_torch():
    """Modules named like torch's, so that pickle writes the globals a real file names."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    class LongStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    FloatStorage.__module__ = LongStorage.__module__ = "torch"
    FloatStorage.__qualname__, LongStorage.__qualname__ = "FloatStorage", "LongStorage"
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage, torch.LongStorage, torch._utils = FloatStorage, LongStorage, utils
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        yield torch, _rebuild_tensor_v2
    finally:
        for key, module in saved.items():
            if module is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = module


class _Storage:
    def __init__(self, key, kind, data):
        self.key, self.kind, self.data = key, kind, data


class _Tensor:
    def __init__(self, rebuild, storage, offset, size, stride):
        self.args = (rebuild, storage, offset, size, stride)

    def __reduce__(self):
        rebuild, storage, offset, size, stride = self.args
        return rebuild, (storage, offset, size, stride, False, OrderedDict())


def write_legacy_pth(path, tensors, *, payload=None):
    """Write ``{name: (storage array, offset, size, stride)}`` as PyTorch's legacy format.

    ``payload``: pickle this object as the state dict instead (a crafted, hostile file).
    """
    with _fake_torch() as (torch, rebuild), open(path, "wb") as handle:
        storages = {}
        state = OrderedDict()
        for name, (array, offset, size, stride) in tensors.items():
            kind = torch.LongStorage if array.dtype == np.int64 else torch.FloatStorage
            storages[name] = _Storage(str(len(storages)), kind, array)
            state[name] = _Tensor(rebuild, storages[name], offset, size, stride)

        class Writer(pickle.Pickler):
            def persistent_id(self, obj):
                if isinstance(obj, _Storage):
                    return ("storage", obj.kind, obj.key, "cpu", len(obj.data))
                return None

        for value in (MAGIC_NUMBER, PROTOCOL_VERSION,
                      {"protocol_version": PROTOCOL_VERSION, "little_endian": True}):
            pickle.dump(value, handle, protocol=2)
        Writer(handle, protocol=2).dump(state if payload is None else payload)
        pickle.dump([s.key for s in storages.values()], handle, protocol=2)
        for storage in storages.values():
            handle.write(struct.pack("<q", len(storage.data)))
            handle.write(storage.data.astype(storage.data.dtype.newbyteorder("<")).tobytes())


def test_tensors_come_back_exactly_with_their_shapes_and_strides(tmp_path):
    conv = np.arange(2 * 3 * 3 * 3, dtype=np.float32)
    bias = np.array([0.5, -1.25], np.float32)
    count = np.array([7], np.int64)
    path = tmp_path / "w.pth"
    write_legacy_pth(path, {
        "conv.weight": (conv, 0, (2, 3, 3, 3), (27, 9, 3, 1)),
        "conv.weight_t": (conv, 0, (3, 2), (1, 27)),          # a strided (transposed) view
        "bn.bias": (bias, 0, (2,), (1,)),
        "bn.num_batches_tracked": (count, 0, (), ()),
    })
    state = read_state_dict(path)
    assert list(state) == ["conv.weight", "conv.weight_t", "bn.bias", "bn.num_batches_tracked"]
    assert np.array_equal(state["conv.weight"], conv.reshape(2, 3, 3, 3))
    assert np.array_equal(state["conv.weight_t"], np.array([[0, 27], [1, 28], [2, 29]]))
    assert state["bn.bias"].dtype == np.float32 and np.array_equal(state["bn.bias"], bias)
    assert state["bn.num_batches_tracked"] == 7


def test_a_file_that_names_os_system_is_refused_in_one_line_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"

    class Hostile:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    path = tmp_path / "hostile.pth"
    write_legacy_pth(path, {}, payload={"weight": Hostile()})
    with pytest.raises(WeightsFileError) as error:
        read_state_dict(path)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("hostile.pth: refused: it names ") and "system" in message
    assert not marker.exists()


@pytest.mark.parametrize(("damage", "words"), [
    (lambda data: data[:-10], "truncated"),
    (lambda data: b"PK\x03\x04" + data[4:], "cannot be read as PyTorch weights"),
    (lambda data: pickle.dumps(123) + data[len(pickle.dumps(MAGIC_NUMBER, protocol=2)):],
     "not a legacy PyTorch weights file"),
])
def test_damaged_files_are_one_line_errors(tmp_path, damage, words):
    path = tmp_path / "w.pth"
    write_legacy_pth(path, {"w": (np.ones(4, np.float32), 0, (4,), (1,))})
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(WeightsFileError, match=words) as error:
        read_state_dict(path)
    assert "\n" not in str(error.value)
