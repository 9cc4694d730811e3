"""Read PyTorch's legacy ``.pth`` weights files without torch, and without running their code.

A legacy (non-zip) PyTorch file is a sequence of pickles followed by raw data: a magic number,
the protocol version (1001), system information, the state dict — pickled with persistent ids
that stand for its storages —, the list of storage keys, and then each storage's raw
little-endian elements, each preceded by its element count. Unpickling runs whatever globals a
file names, so :class:`RestrictedUnpickler` resolves only the tensor-rebuild functions and the
storage types a weights file needs, and refuses every other global in one line (a file that
names ``os.system`` is refused before anything runs).
"""

from __future__ import annotations

import io
import os
import pickle
import struct
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mediumnet.errors import MediumnetError

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

STORAGE_TYPES: dict[str, np.dtype] = {
    "DoubleStorage": np.dtype("<f8"), "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"), "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"), "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"), "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}
"""The storage types of a weights file → the numpy dtype of their elements (little-endian)."""


class WeightsFileError(MediumnetError):
    """A weights file that cannot or must not be read."""


@dataclass(frozen=True)
class _StorageType:
    name: str

    @property
    def dtype(self) -> np.dtype:
        return STORAGE_TYPES[self.name]


@dataclass
class _Storage:
    """A storage named by the pickle; its elements are read after the pickles."""

    key: str
    kind: _StorageType
    numel: int
    data: np.ndarray | None = None


@dataclass
class _TensorRef:
    """A tensor: a strided view of a storage, made once every storage is read."""

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise WeightsFileError(f"storage {self.storage.key} was never written")
        itemsize = data.dtype.itemsize
        needed = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride,
                                                               strict=True)) + 1
        if self.size and min(self.size) > 0 and needed > len(data):
            raise WeightsFileError(f"a tensor of storage {self.storage.key} runs past its "
                                   "end: the file is corrupt")
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size,
            strides=tuple(s * itemsize for s in self.stride), writeable=False)
        return np.array(view)  # a copy: contiguous, independent of the file's buffer


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("collections", "OrderedDict"): OrderedDict,
    **{("torch", name): _StorageType(name) for name in STORAGE_TYPES},
}
"""The only globals a weights file may name, and what stands for them here."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals of :data:`_ALLOWED`; storages by key."""

    def __init__(self, handle, name: str) -> None:
        super().__init__(handle)
        self.name = name
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        """Resolve a global the file names: only those of :data:`_ALLOWED`, else refuse."""
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise WeightsFileError(f"{self.name}: refused: it names {module}.{name}, which a "
                               "weights file never needs (a file that runs code is not "
                               "read); use the file from the package index")

    def persistent_load(self, pid: Any) -> _Storage:
        """Stand for a storage the file names by key; its elements are read afterwards."""
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise WeightsFileError(f"{self.name}: unknown persistent id {pid!r}: not a "
                                   "PyTorch weights file")
        kind, key, _location, numel = pid[1], str(pid[2]), pid[3], int(pid[4])
        if not isinstance(kind, _StorageType):
            raise WeightsFileError(f"{self.name}: storage {key} has no storage type")
        if key not in self.storages:
            self.storages[key] = _Storage(key, kind, numel)
        return self.storages[key]


def _load(handle: io.BufferedReader, name: str) -> Any:
    unpickler = RestrictedUnpickler(handle, name)
    return unpickler.load(), unpickler


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a legacy PyTorch weights file into ``{parameter name: numpy array}``.

    Parameters
    ----------
    path : path-like
        A ``.pth`` file in PyTorch's legacy (non-zip) serialization.

    Returns
    -------
    dict
        Every tensor of the state dict as a numpy array, in the file's order.

    Raises
    ------
    WeightsFileError
        If the file names a global that is not a tensor-rebuild function or a storage type
        (nothing it names is run), is in another format, or is truncated or corrupt.
    """
    path = Path(path)
    name = path.name
    try:
        with path.open("rb") as handle:
            magic, _ = _load(handle, name)
            if magic != MAGIC_NUMBER:
                raise WeightsFileError(f"{name}: not a legacy PyTorch weights file (no magic "
                                       "number); give the .pth file of the package index")
            protocol, _ = _load(handle, name)
            if protocol != PROTOCOL_VERSION:
                raise WeightsFileError(f"{name}: PyTorch file protocol {protocol!r}, not "
                                       f"{PROTOCOL_VERSION}")
            _load(handle, name)  # system information: endianness and type sizes
            state, unpickler = _load(handle, name)
            keys, _ = _load(handle, name)
            for key in keys:
                storage = unpickler.storages.get(str(key))
                if storage is None:
                    raise WeightsFileError(f"{name}: storage {key} is listed but unused")
                (count,) = struct.unpack("<q", handle.read(8))
                raw = handle.read(count * storage.kind.dtype.itemsize)
                if count != storage.numel or len(raw) != count * storage.kind.dtype.itemsize:
                    raise WeightsFileError(f"{name}: storage {key} is truncated: the file is "
                                           "corrupt or incomplete")
                storage.data = np.frombuffer(raw, storage.kind.dtype)
    except (pickle.UnpicklingError, EOFError, struct.error, ValueError, TypeError,
            IndexError, KeyError, AttributeError) as exc:
        raise WeightsFileError(f"{name}: cannot be read as PyTorch weights "
                               f"({type(exc).__name__}): the file is corrupt") from None
    if not isinstance(state, dict):
        raise WeightsFileError(f"{name}: holds a {type(state).__name__}, not a state dict")
    return {str(k): v.array() for k, v in state.items() if isinstance(v, _TensorRef)}
