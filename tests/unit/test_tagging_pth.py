"""The torch-free ``.pth`` reader: both layouts torch writes, strided views, and nothing executable."""

from __future__ import annotations

import io
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mediaforge.tagging.pth import PthError, load_state_dict

MAGIC = 0x1950A86A20F9469CFC6C


class _Storage:
    def __init__(self, key: str, data: np.ndarray[Any, Any], type_name: str) -> None:
        self.key, self.data, self.type_name = key, data, type_name


class _Tensor:
    def __init__(
        self, storage: _Storage, offset: int, shape: tuple[int, ...], stride: tuple[int, ...]
    ) -> None:
        self.args = (storage, offset, shape, stride)

    def __reduce__(self) -> tuple[Any, ...]:
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return (rebuild, (*self.args, False, OrderedDict()))


@pytest.fixture
def fake_torch(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Just enough of a ``torch`` module for pickle to write torch's global names."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")
    for name in ("FloatStorage", "LongStorage"):
        setattr(torch, name, type(name, (), {"__module__": "torch"}))

    def _rebuild_tensor_v2(*args: Any) -> None:
        raise AssertionError("never called while writing")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def _pickled(obj: Any, storages: list[_Storage], *, legacy: bool) -> bytes:
    torch = sys.modules["torch"]

    class Pickler(pickle.Pickler):
        def persistent_id(self, o: Any) -> Any:
            if isinstance(o, _Storage):
                storages.append(o) if o not in storages else None
                pid = ("storage", getattr(torch, o.type_name), o.key, "cpu", o.data.size)
                return (*pid, None) if legacy else pid
            return None

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def write_legacy(path: Path, obj: Any) -> None:
    storages: list[_Storage] = []
    body = _pickled(obj, storages, legacy=True)
    with path.open("wb") as fp:
        for header in (MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(header, fp, protocol=2)
        fp.write(body)
        pickle.dump([s.key for s in storages], fp, protocol=2)
        for s in storages:
            fp.write(struct.pack("<q", s.data.size) + s.data.tobytes())


def write_zip(path: Path, obj: Any) -> None:
    storages: list[_Storage] = []
    body = _pickled(obj, storages, legacy=False)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", body)
        for s in storages:
            archive.writestr(f"archive/data/{s.key}", s.data.tobytes())


def sample_state() -> tuple[OrderedDict[str, _Tensor], dict[str, np.ndarray[Any, Any]]]:
    shared = _Storage("0", np.arange(12, dtype=np.float32), "FloatStorage")
    count = _Storage("1", np.array([7], dtype=np.int64), "LongStorage")
    state = OrderedDict(
        weight=_Tensor(shared, 0, (3, 4), (4, 1)),
        transposed=_Tensor(shared, 0, (4, 3), (1, 4)),
        tail=_Tensor(shared, 8, (4,), (1,)),
        num_batches_tracked=_Tensor(count, 0, (), ()),
    )
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    expected = {"weight": base, "transposed": base.T, "tail": base[2], "num_batches_tracked": np.array(7)}
    return state, expected


@pytest.mark.parametrize("write", [write_legacy, write_zip], ids=["legacy", "zip"])
@pytest.mark.usefixtures("fake_torch")
def test_reads_every_tensor_with_its_shape_and_strides(write: Any, tmp_path: Path) -> None:
    """Tensors sharing one storage, a transposed view, an offset slice and a scalar all read back."""
    state, expected = sample_state()
    path = tmp_path / "model.pth"
    write(path, state)
    loaded = load_state_dict(path)
    assert list(expected) == list(loaded)
    for name, array in expected.items():
        np.testing.assert_array_equal(array, loaded[name])
        assert loaded[name].flags.c_contiguous


@pytest.mark.usefixtures("fake_torch")
def test_refuses_a_pickle_that_names_other_callables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A state dict that would call anything but torch's rebuild function is refused unrun."""

    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            return (print, ("pwned",))

    path = tmp_path / "evil.pth"
    write_legacy(path, OrderedDict(x=Payload()))
    with pytest.raises(PthError, match=r"refusing to load .*print"):
        load_state_dict(path)
    assert "pwned" not in capsys.readouterr().out


def test_refuses_a_file_that_is_not_from_torch(tmp_path: Path) -> None:
    """Random bytes are a clean PthError, not a crash."""
    path = tmp_path / "junk.pth"
    path.write_bytes(b"\x80\x02K\x01." + b"junk" * 10)
    with pytest.raises(PthError):
        load_state_dict(path)
