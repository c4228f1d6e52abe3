"""The one-shot demo end to end: headless against the emulator equals the in-process runtime,
the report has its figures, and the live view draws its panels and updates them."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgelearn import artifact
from edgelearn.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from test_oneshot import small_artifact  # noqa: E402

NMNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "events" / "slayer-nmnist"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("art") / "small.elm"
    artifact.save(path, small_artifact(5))
    return path


def demo(args, report):
    assert main(["demo", "oneshot", *args, "--headless", "--report", str(report)]) == 0
    return json.loads(report.read_text())


def predictions(rep):
    return [q["prediction"] for e in rep["episodes"] for q in e["queries"]]


@pytest.mark.skipif(not NMNIST.exists(), reason=f"real recordings not found at {NMNIST}")
def test_headless_demo_on_the_emulator_equals_in_process(model, tmp_path):
    common = ["--artifact", str(model), "--recordings", str(NMNIST), "--episodes", "2"]
    dev = demo(common, tmp_path / "dev.json")
    inproc = demo(common + ["--port", "inproc"], tmp_path / "inproc.json")
    assert predictions(dev) == predictions(inproc)
    assert dev["total"] == 2 * 5 * 2 and 0 <= dev["ci95"][0] <= dev["accuracy"] <= dev["ci95"][1]
    assert sum(map(sum, dev["confusion"])) == dev["total"]
    assert dev["bytes_over_link"] > 0 and inproc["bytes_over_link"] == 0
    for name in dev["figures"].values():
        assert (tmp_path / name).stat().st_size > 1000


def test_headless_demo_on_generated_gestures(model, tmp_path):
    rep = demo(["--artifact", str(model), "--port", "inproc", "--episodes", "1", "--ways", "3",
                "--queries", "1"], tmp_path / "g.json")
    assert rep["data"].startswith("generated gestures") and rep["total"] == 3



def test_default_artifacts_follow_the_input(tmp_path):
    # no --artifact: the shipped gesture model for generated gestures, the glyph model (34 x 34,
    # N-MNIST-like) for recorded files; each was meta-trained on its own kind of data
    from edgelearn import _demo_oneshot as D

    rep = demo(["--port", "inproc", "--episodes", "1", "--ways", "2", "--queries", "1"],
               tmp_path / "g.json")
    assert rep["artifact"] == str(D.GESTURES_ARTIFACT)
    gest = artifact.load(D.GESTURES_ARTIFACT)
    assert gest.manifest["data"]["kind"] == "gestures" and gest.readout.steps == 50
    glyph = artifact.load(D.DEFAULT_ARTIFACT)
    assert glyph.manifest["data"]["kind"] == "glyphs"
    args = D.argparse.Namespace(artifact=None, recordings=[tmp_path])
    assert D.artifact_path(args) == D.DEFAULT_ARTIFACT
    args.artifact = tmp_path / "mine.elm"
    assert D.artifact_path(args) == args.artifact

def test_bad_arguments_are_one_line_errors(model, capsys):
    assert main(["demo", "oneshot", "--ways", "0"]) == 2
    assert "--ways must be >= 1" in capsys.readouterr().err
    assert main(["demo", "oneshot", "--artifact", "/nonexistent.elm"]) == 2
    assert "not found" in capsys.readouterr().err
    # a port that does not open: one line naming it, for both demos
    for demo_name in ("oneshot", "incontext"):
        assert main(["demo", demo_name, "--port", "/nonexistent-port", "--headless",
                     "--episodes", "1"]) == 1
        err = capsys.readouterr().err
        assert "cannot open /nonexistent-port" in err and "Traceback" not in err


@pytest.mark.skipif(not NMNIST.exists(), reason=f"real recordings not found at {NMNIST}")
def test_live_view_draws_and_updates_its_panels(model, tmp_path):
    # run the demo on a pseudo-terminal, as a user would see it, and read the screen stream
    import pty

    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="120", LINES="50", TERM="xterm-256color")
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgelearn", "demo", "oneshot", "--artifact", str(model),
         "--recordings", str(NMNIST), "--episodes", "1", "--ways", "3", "--queries", "1",
         "--port", "inproc", "--speed", "4", "--report", str(tmp_path / "live.json")],
        stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=30)
    os.close(master)
    text = out.decode("utf-8", "replace")
    assert proc.returncode == 0, text[-2000:]
    for panel in ("events (ON green, OFF red)", "output neurons (spikes)", "link and score",
                  "queries"):
        assert panel in text
    # the view updated: it showed learning, then queries, and the score moved
    assert "learning class" in text and "query 1/3" in text and "query 3/3" in text
    import re

    progress = set(re.findall(r"\[(\d+) / \d+ ms\]", text))
    assert len(progress) > 5, progress  # the streaming position advanced window by window


def test_api_demo_script_fast_mode(model, capsys):
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "demos" / "oneshot_api.py"
    spec = importlib.util.spec_from_file_location("oneshot_api", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.main(["--artifact", str(model), "--fast"])
    assert res["total"] == 2 * 3 * 2
    assert "C runtime == twin" in capsys.readouterr().out
