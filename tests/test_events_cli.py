"""``edgelearn events ...`` end to end (in-process through edgelearn.cli.main)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from edgelearn import events as E
from edgelearn.cli import main

DATA = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "events"
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"real recordings not found at {DATA} (../shared/data is absent)"
)


def _small(tmp_path) -> pathlib.Path:
    ev = E.make_events([5, 10, 2000, 2500], [0, 3, 3, 1], [1, 2, 0, 0], [1, 0, 1, 1])
    return E.write(tmp_path / "s.raw", E.Recording(ev, 4, 3), format="evt3")


def test_info_prints_json(tmp_path, capsys):
    assert main(["events", "info", str(_small(tmp_path))]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info == {
        "format": "evt3",
        "events": 4,
        "width": 4,
        "height": 3,
        "t_first": 5,
        "t_last": 2500,
        "on": 3,
        "off": 1,
    }


@needs_data
def test_info_on_real_evt3(capsys):
    assert main(["events", "info", str(DATA / "expelliarmus/evt3_sample.raw")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["events"], info["t_first"], info["t_last"]) == (219596, 11718656, 11727467)


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.aedat4"
    bad.write_bytes(b"#!AER-DAT4.0\r\n\x05\x00")
    assert main(["events", "info", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.aedat4" in err and "byte" in err
    assert main(["events", "info", str(tmp_path / "missing.raw")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["events", "convert", str(_small(tmp_path)), str(tmp_path / "x.unknown")]) == 2


def test_convert_round_trip_and_rebase(tmp_path, capsys):
    src = _small(tmp_path)
    for out in ("a.npz", "a.aedat4", "a.aedat", "a.dat"):
        assert main(["events", "convert", str(src), str(tmp_path / out)]) == 0
        assert np.array_equal(E.read(tmp_path / out).events, E.read(src).events)
    assert (
        main(["events", "convert", "--rebase", "--to", "evt2", str(src), str(tmp_path / "b.raw")])
        == 0
    )
    assert E.read(tmp_path / "b.raw").events["t"].tolist() == [0, 5, 1995, 2495]


def test_show_writes_png(tmp_path, capsys):
    out = tmp_path / "f.png"
    assert main(["events", "show", str(_small(tmp_path)), "-o", str(out), "--frames", "2"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_generate_writes_a_dataset_folder(tmp_path, capsys):
    out = tmp_path / "ds"
    assert (
        main(
            [
                "events",
                "generate",
                "glyphs",
                str(out),
                "--classes",
                "2",
                "--samples",
                "2",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["kind"] == "glyphs" and meta["classes"] == 2
    ds = E.open_dataset(out)
    assert ds.classes == ("0", "1") and ds.count("0") == 2
    assert np.array_equal(ds.get("1", 0).events, E.glyph_sample(1, 0, seed=3).events)


def test_events_subcommand_imports_no_jax(tmp_path):
    code = (
        "import sys; from edgelearn.cli import main; "
        f"rc = main(['events', 'info', {str(_small(tmp_path))!r}]); "
        "assert 'jax' not in sys.modules, 'jax imported'; sys.exit(rc)"
    )
    root = pathlib.Path(__file__).resolve().parents[1]
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 0, r.stderr
