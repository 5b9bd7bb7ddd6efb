"""Read a PyTorch ``.pth`` state dict into numpy arrays, without torch.

Both layouts ``torch.save`` has written are read: the zip archive (torch >= 1.6: ``data.pkl`` plus
one raw file per storage) and the legacy stream (a magic number, a protocol version, system info,
the pickled object, the storage keys, then each storage as an int64 element count and its bytes).
The pickle is loaded with an allow-list unpickler, so a file cannot run code: only ``OrderedDict``,
torch's tensor-rebuild function and its storage type names resolve.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["PthError", "load_state_dict"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class PthError(ValueError):
    """The file is not a torch state dict this reader understands."""


@dataclass(frozen=True)
class _StorageType:
    name: str

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(_DTYPES[self.name])


@dataclass
class _Storage:
    key: str
    dtype: np.dtype[Any]
    numel: int
    data: np.ndarray[Any, Any] | None = None


@dataclass(frozen=True)
class _TensorRef:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def materialize(self) -> np.ndarray[Any, Any]:
        if self.storage.data is None:
            raise PthError(f"storage {self.storage.key} has no data")
        flat = self.storage.data
        if not self.shape:
            return flat[self.offset : self.offset + 1].reshape(()).copy()
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :],
            shape=self.shape,
            strides=tuple(s * itemsize for s in self.stride),
            writeable=False,
        )
        return np.ascontiguousarray(view)


def _rebuild_tensor(storage: _Storage, offset: int, shape: Any, stride: Any, *_: Any) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(shape), tuple(stride))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self._storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        raise PthError(f"refusing to load {module}.{name} from a state dict")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise PthError(f"unexpected persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1], str(pid[2]), pid[3], int(pid[4])
        if len(pid) > 5 and pid[5] is not None:
            raise PthError("storage views are not supported")
        if not isinstance(storage_type, _StorageType):
            raise PthError(f"unknown storage type {storage_type!r}")
        storage = self._storages.get(key)
        if storage is None:
            storage = self._storages[key] = _Storage(key, storage_type.dtype, numel)
        return storage


def load_state_dict(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    """Every tensor of the state dict saved at ``path``, by name, as a contiguous numpy array."""
    try:
        if zipfile.is_zipfile(path):
            obj = _load_zip(path)
        else:
            with path.open("rb") as fp:
                obj = _load_legacy(fp)
    except (pickle.UnpicklingError, EOFError, struct.error, KeyError, IndexError, TypeError) as exc:
        raise PthError(f"cannot read {path.name}: {exc}") from exc
    if not isinstance(obj, dict):
        raise PthError(f"{path.name} holds a {type(obj).__name__}, not a state dict")
    return {str(name): ref.materialize() for name, ref in obj.items() if isinstance(ref, _TensorRef)}


def _load_legacy(fp: IO[bytes]) -> Any:
    if pickle.load(fp) != _LEGACY_MAGIC:  # noqa: S301  # plain ints and a dict of ints, nothing callable
        raise PthError("not a torch file (bad magic number)")
    if pickle.load(fp) != _LEGACY_PROTOCOL:  # noqa: S301
        raise PthError("unsupported torch file protocol")
    sys_info = pickle.load(fp)  # noqa: S301
    if not sys_info.get("little_endian", True):
        raise PthError("big-endian torch files are not supported")
    storages: dict[str, _Storage] = {}
    obj = _Unpickler(fp, storages).load()
    for key in pickle.load(fp):  # noqa: S301  # a list of storage key strings
        storage = storages[str(key)]
        (numel,) = struct.unpack("<q", fp.read(8))
        raw = fp.read(numel * storage.dtype.itemsize)
        storage.data = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"), count=numel)
    return obj


def _load_zip(path: Path) -> Any:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pickles:
            raise PthError("zip archive without data.pkl")
        prefix = pickles[0][: -len("data.pkl")]
        storages: dict[str, _Storage] = {}
        obj = _Unpickler(io.BytesIO(archive.read(pickles[0])), storages).load()
        for key, storage in storages.items():
            raw = archive.read(f"{prefix}data/{key}")
            storage.data = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"), count=storage.numel)
    return obj
