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


# --------------------------------------------------------------------------- the column table
DOC = Path(__file__).resolve().parents[1] / "docs" / "formation.md"


def doc_columns() -> dict[str, dict[str, str]]:
    """The column table of docs/formation.md, "Input: DEVICES.csv" (row name → cells)."""
    text = DOC.read_text(encoding="utf-8")
    block = text[text.index("<!-- devices-columns:") :].split("\n\n", 1)[0]
    lines = [ln for ln in block.splitlines() if ln.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split(" | ")]
    rows = {}
    for ln in lines[2:]:
        cells = [c.strip() for c in ln.strip().strip("|").split(" | ")]
        assert len(cells) == len(head), ln
        rows[cells[0].strip("`")] = dict(zip(head, cells))
    return rows


def test_doc_table_matches_the_registry() -> None:
    from ssdfl.theory.devices import BASE_COLUMNS, column_default, optimizer_columns
    from ssdfl.theory.optimizers import OPTIMIZERS

    rows = doc_columns()
    declared = {c for cls in OPTIMIZERS.values() for c in cls.columns}
    assert set(rows) == set(BASE_COLUMNS) | declared
    for c in BASE_COLUMNS:
        assert rows[c]["read by"] == "all", c
    for c, kinds in optimizer_columns().items():
        assert [k for k in OPTIMIZERS if c in OPTIMIZERS[k].columns] == kinds
        assert rows[c]["read by"].split(", ") == kinds, c
        for k in kinds:
            default = column_default(k, c)
            cell = rows[c]["default"]
            assert cell == "required" if default is None else float(cell) == default, (c, k)
    assert rows["optimizer"]["type"].replace("\\", "").split(" | ") == [
        f"`{k}`" for k in OPTIMIZERS
    ]


def test_adam_coefficients_from_the_file(tmp_path: Path, g: ssdfl.Graph) -> None:
    p = write(
        tmp_path,
        ["a,adam,0.5,0.99,1e-3\n", "b,adam,,,\n", "c,sgd,,,\n"],
        header="id,optimizer,beta1,beta2,eps\n",
    )
    t = read_devices(p, g)
    a, b = t.optimizer_of(0), t.optimizer_of(1)
    assert (a.beta1, a.beta2, a.eps) == (0.5, 0.99, 1e-3)  # type: ignore[attr-defined]
    assert (b.beta1, b.beta2, b.eps) == (0.9, 0.999, 1e-8)  # type: ignore[attr-defined]
    assert t.to_records()[0] == {
        "optimizer": "adam", "n_samples": 1.0, "beta1": 0.5, "beta2": 0.99, "eps": 1e-3
    }  # fmt: skip
    # the population steps with those coefficients: one Adam step by hand
    grad = np.array([[2.0, -1.0], [2.0, -1.0], [2.0, -1.0]])
    pop = t.population()
    d = pop.direction(grad, np.zeros((3, 2)), np.zeros((3, 2)), pop.init_state(2), 0)
    m_hat = grad[0]  # (1−β₁)g / (1−β₁)
    s_hat = grad[0] ** 2
    np.testing.assert_allclose(d[0], m_hat / (np.sqrt(s_hat) + 1e-3))
    np.testing.assert_allclose(d[1], m_hat / (np.sqrt(s_hat) + 1e-8))
    np.testing.assert_array_equal(d[2], grad[2])
    with pytest.raises(DeviceFileError, match=r":3: column 'beta1', 'beta2', 'eps': .*beta1=1"):
        read_devices(
            write(tmp_path, ["a,adam,1.0,,\n"], header="id,optimizer,beta1,beta2,eps\n"), g
        )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("c,sgd,,,,31,0,30\n", r"'n_samples': 31 differs from the sum of the label columns, 30"),
        ("c,sgd,,,,30,0.5,29.5\n", r"'label_0': 0.5 is not a whole number"),
        ("c,sgd,,,,30,-1,31\n", r"'label_0': -1 must be ≥ 0"),
        ("c,sgd,,,,30,nan,30\n", r"'label_0': 'nan' is not finite"),
        ("c,sgd,,,inf,30,0,30\n", r"'lr': 'inf' is not finite"),
        ("c,sgd,,,-0.1,30,0,30\n", r"'lr': -0.1 must be > 0"),
        ("c,prox,-0.1,,,30,0,30\n", r"'mu'.*>= 0"),
    ],
)
def test_consistency_checks_name_row_and_column(
    tmp_path: Path, g: ssdfl.Graph, row: str, message: str
) -> None:
    with pytest.raises(DeviceFileError, match=message) as exc:
        read_devices(write(tmp_path, [GOOD[0], GOOD[1], row]), g)
    assert str(exc.value).startswith(f"{tmp_path / 'devices.csv'}:5:")


def test_n_samples_defaults_to_the_label_sum(tmp_path: Path, g: ssdfl.Graph) -> None:
    t = read_devices(write(tmp_path, ["a,3,4\n", "b,0,1\n", "c,2,0\n"], "id,label_x,label_y\n"), g)
    np.testing.assert_array_equal(t.n_samples, [7, 1, 2])
    assert t.classes == ["x", "y"]
    t = read_devices(write(tmp_path, ["a\n", "b\n", "c\n"], "ID\n"), g)  # no labels: 1 each
    np.testing.assert_array_equal(t.n_samples, [1, 1, 1])


def test_in_memory_sources_read_like_the_file(tmp_path: Path, g: ssdfl.Graph) -> None:
    pd = pytest.importorskip("pandas")
    ref = read_devices(write(tmp_path, GOOD), g)
    df = pd.read_csv(write(tmp_path, GOOD), comment="#")  # empty cells become NaN
    records = [
        {"id": "a", "optimizer": "sgd", "n_samples": 10, "label_0": 5, "label_1": 5},
        {"id": "b", "optimizer": "prox", "mu": 0.1, "n_samples": 20, "label_0": 20},
        {"id": "c", "optimizer": "momentum", "rho": 0.9, "lr": 0.05, "n_samples": 30,
         "label_1": 30},
    ]  # fmt: skip
    columns = {
        "id": ["a", "b", "c"], "optimizer": ["sgd", "prox", "momentum"],
        "mu": [None, 0.1, None], "rho": [None, None, 0.9], "lr": [None, None, 0.05],
        "n_samples": np.array([10, 20, 30]), "label_0": [5, 20, 0], "label_1": [5, 0, 30],
    }  # fmt: skip
    for src in (df, df.set_index("id"), records, columns):
        t = read_devices(src, g)
        assert t.optimizer == ref.optimizer
        for f in ("mu", "rho", "lr", "n_samples", "label_hist"):
            np.testing.assert_array_equal(getattr(t, f), getattr(ref, f))
        assert t.classes == ref.classes


def test_in_memory_errors_name_row_and_column(g: ssdfl.Graph) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"id": ["a", "b", "c"], "label_0": [1, 2.5, 3]})
    with pytest.raises(DeviceFileError, match=r"row 1 .*id 'b'.*'label_0': 2.5 is not a whole"):
        read_devices(df, g)
    with pytest.raises(DeviceFileError, match=r"row 2: column 'id': device id 'a' appears twice"):
        read_devices({"id": ["a", "b", "a"]}, g)
    with pytest.raises(DeviceFileError, match=r"device id 'z' is not a node.*'a', 'b', 'c'"):
        read_devices([{"id": "a"}, {"id": "z"}], g)
    with pytest.raises(DeviceFileError, match=r"2 graph node\(s\) have no row: 'b', 'c'"):
        read_devices([{"id": "a"}], g)
    with pytest.raises(DeviceFileError, match="different lengths"):
        read_devices({"id": ["a", "b", "c"], "lr": [0.1]}, g)
    with pytest.raises(TypeError, match="DataFrame"):
        read_devices(42, g)  # type: ignore[arg-type]


def test_node_names_and_integer_ids(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    # networkx-style names: ids are node names, not positions
    g = ssdfl.Graph.from_edges([(0, 1), (1, 2)], labels=["Myriel", "Napoleon", "Cosette"])
    t = read_devices({"id": ["Cosette", "Myriel", "Napoleon"], "lr": [0.3, 0.1, 0.2]}, g)
    np.testing.assert_array_equal(t.lr, [0.1, 0.2, 0.3])
    # unnamed graph: ids are indices; pandas' float column 2.0 matches node 2
    h = ssdfl.Graph.from_edges([(0, 1), (1, 2)])
    df = pd.DataFrame({"id": [2.0, 0.0, 1.0], "n_samples": [3, 1, 2]})
    np.testing.assert_array_equal(read_devices(df, h).n_samples, [1, 2, 3])


def test_file_encoding(tmp_path: Path, g: ssdfl.Graph) -> None:
    p = tmp_path / "devices.csv"
    p.write_bytes("\ufeffid,lr\na,0.1\nb,0.2\nc,0.3\n".encode())  # BOM from spreadsheets
    np.testing.assert_array_equal(read_devices(p, g).lr, [0.1, 0.2, 0.3])
    p.write_bytes(b"id,lr\na,0.1\nb\xff,0.2\n")
    with pytest.raises(DeviceFileError, match=r"devices.csv:3: not UTF-8"):
        read_devices(p, g)
