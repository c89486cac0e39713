"""DEVICES.csv parsing: values read back, and every malformed row named in the error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ssdfl
from ssdfl.theory.devices import DeviceFileError, read_devices

HEADER = "id,optimizer,mu,rho,lr,n_samples,label_0,label_1\n"
GOOD = ["a,sgd,,,,10,5,5\n", "b,prox,0.1,,,20,20,0\n", "c,momentum,,0.9,0.05,30,0,30\n"]


@pytest.fixture
def g() -> ssdfl.Graph:
    return ssdfl.Graph.from_edges([(0, 1), (1, 2)], labels=["a", "b", "c"])


def write(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    p = tmp_path / "devices.csv"
    p.write_text("# comment line\n" + header + "".join(rows))
    return p


def test_reads_values(tmp_path: Path, g: ssdfl.Graph) -> None:
    # rows out of order: alignment is by id, not position
    t = read_devices(write(tmp_path, [GOOD[2], GOOD[0], GOOD[1]]), g)
    assert t.optimizer == ["sgd", "prox", "momentum"]
    np.testing.assert_array_equal(t.mu, [0, 0.1, 0])
    np.testing.assert_array_equal(t.rho, [0, 0, 0.9])
    np.testing.assert_array_equal(t.step_sizes(0.2), [0.2, 0.2, 0.05])
    np.testing.assert_array_equal(t.n_samples, [10, 20, 30])
    np.testing.assert_array_equal(t.label_hist, [[5, 5], [20, 0], [0, 30]])
    assert t.classes == ["0", "1"]
    assert not t.homogeneous


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("c,adamw,,,,30,0,30\n", "'optimizer'"),
        ("c,prox,,,,30,0,30\n", "needs column 'mu'"),
        ("c,momentum,,1.0,,30,0,30\n", "must be < 1"),
        ("c,sgd,,,,-3,0,30\n", "'n_samples'"),
        ("c,sgd,,,,30,x,30\n", "'label_0'"),
        ("c,sgd,,,,30,0,0\n", "all zero"),
        ("z,sgd,,,,30,0,30\n", "not a node"),
        ("b,sgd,,,,30,0,30\n", "appears twice"),
        ("c,sgd,,,,30,0\n", "fields"),
        ("c,sgd,,,nan,30,0,30\n", "not finite"),
    ],
)
def test_bad_rows_are_named(tmp_path: Path, g: ssdfl.Graph, row: str, message: str) -> None:
    p = write(tmp_path, [GOOD[0], GOOD[1], row])
    with pytest.raises(DeviceFileError, match=message) as exc:
        read_devices(p, g)
    assert ":5:" in str(exc.value) or "appears twice" in str(exc.value)  # file line 5


def test_missing_rows_and_columns(tmp_path: Path, g: ssdfl.Graph) -> None:
    with pytest.raises(DeviceFileError, match="have no row"):
        read_devices(write(tmp_path, GOOD[:2]), g)
    with pytest.raises(DeviceFileError, match="unknown column"):
        read_devices(write(tmp_path, ["a,1\n"], header="id,colour\n"), g)
    with pytest.raises(DeviceFileError, match="no 'id'"):
        read_devices(write(tmp_path, [], header="name,optimizer\n"), g)
    with pytest.raises(FileNotFoundError):
        read_devices(tmp_path / "nope.csv", g)


def test_bundled_example(examples: Path) -> None:
    g = ssdfl.read_graph(examples / "er30.edgelist")
    t = read_devices(examples / "er30-devices.csv", g)
    assert t.n == 30
    assert set(t.optimizer) == {"sgd", "prox", "momentum"}
    assert t.label_hist is not None
    assert np.all((t.label_hist > 0).sum(axis=1) <= 3)
    np.testing.assert_array_equal(t.label_hist.sum(axis=1), t.n_samples)
