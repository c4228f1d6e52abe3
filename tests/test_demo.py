"""The one-shot demo end to end: headless against the emulator equals the in-process runtime,
the report has its figures, and the live view draws its panels and updates them."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgelearn import artifact, events
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


# --------------------------------------------------------------------------- bad input


def fails(capsys, args, *expect):
    """``edgelearn ARGS`` exits 2 with one line on stderr holding every ``expect``."""
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for e in expect:
        assert e in err, err


@pytest.mark.skipif(not NMNIST.exists(), reason=f"real recordings not found at {NMNIST}")
def test_oneshot_recordings_files_are_those_files(model, tmp_path, capsys):
    import shutil

    head = ["demo", "oneshot", "--headless", "--artifact", str(model), "--port", "inproc",
            "--report", str(tmp_path / "r.json"), "--recordings"]
    # one N-MNIST file: its digit from the label list beside it, one class only
    fails(capsys, [*head, str(NMNIST / "1.bs2")], "1 class (5) in 1 file", "--ways 5")
    # every file of the folder, named: the folder's episodes
    files = sorted(map(str, NMNIST.glob("*.bs2")))
    common = ["--artifact", str(model), "--port", "inproc", "--episodes", "1"]
    named = demo([*common, "--recordings", *files], tmp_path / "named.json")
    folder = demo([*common, "--recordings", str(NMNIST)], tmp_path / "folder.json")
    assert predictions(named) == predictions(folder) and named["data"] == "50 files"
    assert named["episodes"][0]["classes"] == folder["episodes"][0]["classes"]
    # class/file folders: the class of a file is its folder's name
    for digit, ids in (("three", (3, 30)), ("seven", (7, 77)), ("nine", (9, 19))):
        (tmp_path / "cf" / digit).mkdir(parents=True)
        for i in ids:
            shutil.copy(NMNIST / f"{i}.bs2", tmp_path / "cf" / digit)
    cf = sorted(map(str, (tmp_path / "cf").glob("*/*.bs2")))
    rep = demo(["--artifact", str(model), "--port", "inproc", "--episodes", "1", "--ways", "3",
                "--queries", "1", "--recordings", *cf], tmp_path / "cf.json")
    assert sorted(rep["episodes"][0]["classes"]) == ["nine", "seven", "three"]
    fails(capsys, [*head, *cf, "--ways", "3"], "only 2 samples", "--shots + --queries = 3")
    # a file its folder's label list does not name
    (tmp_path / "nm").mkdir()
    shutil.copy(NMNIST / "train1K.txt", tmp_path / "nm")
    shutil.copy(NMNIST / "1.bs2", tmp_path / "nm" / "99999.bs2")
    fails(capsys, [*head, str(tmp_path / "nm" / "99999.bs2")], "99999.bs2 has no label",
          "train1K.txt")
    fails(capsys, [*head, str(NMNIST / "1.bs2"), str(tmp_path)], "one folder, or files")


@pytest.mark.skipif(not NMNIST.exists(), reason=f"real recordings not found at {NMNIST}")
def test_an_unreadable_recording_stops_the_demo_and_keeps_what_was_done(model, tmp_path,
                                                                        capsys):
    # the folder's first file is read up front; one read later in the run (here in episode 2:
    # the sampler's seed fixes the order) stops it with one line naming the file, and the
    # report keeps the episodes completed before it, whole
    import shutil

    shutil.copytree(NMNIST, tmp_path / "nm")
    bad = tmp_path / "nm" / "37.bs2"
    bad.write_bytes(bad.read_bytes()[:1003])
    report = tmp_path / "r.json"
    fails(capsys, ["demo", "oneshot", "--artifact", str(model), "--headless", "--port", "inproc",
                   "--recordings", str(tmp_path / "nm"), "--queries", "4", "--episodes", "10",
                   "--report", str(report)], f"{bad} at byte 1000: truncated",
          "stopped in episode 2 of 10", "keeps the 1 completed")
    rep = json.loads(report.read_text())
    assert len(rep["episodes"]) == 1 and rep["total"] == 20 and "37.bs2" in rep["stopped"]
    assert sum(map(sum, rep["confusion"])) == 20 and rep["correct"] <= 20
    assert all(t["episode"] == 0 for t in rep["timeline"])
    # every file unreadable but the one read up front (class 0's first): the first episode
    # stops, nothing to keep, no report
    first = Path(events.open_dataset(tmp_path / "nm").get(0, 0).meta["path"])
    for f in (tmp_path / "nm").glob("*.bs2"):
        if f != first:
            f.write_bytes(f.read_bytes()[:1003])
    report.unlink()
    fails(capsys, ["demo", "oneshot", "--artifact", str(model), "--headless", "--port", "inproc",
                   "--recordings", str(tmp_path / "nm"), "--report", str(report)],
          "truncated nmnist data")
    assert not report.exists()


@pytest.mark.skipif(not NMNIST.exists(), reason=f"real recordings not found at {NMNIST}")
def test_oneshot_too_few_samples_for_the_episodes(model, tmp_path, capsys):
    head = ["demo", "oneshot", "--headless", "--artifact", str(model), "--port", "inproc",
            "--report", str(tmp_path / "r.json"), "--recordings", str(NMNIST)]
    fails(capsys, [*head, "--queries", "10"], "only 5 samples", "--shots + --queries = 11")
    fails(capsys, [*head, "--shots", "3", "--queries", "3"], "--shots + --queries = 6")
    fails(capsys, [*head, "--ways", "11"], "10 classes", "fewer than --ways 11")


def test_oneshot_says_how_many_examples_it_learns_from(model, tmp_path, monkeypatch):
    from edgelearn import _demo_oneshot as D

    labels = []
    stream = D.stream_sample

    def spy(*a, label, **kw):
        labels.append(label)
        return stream(*a, label=label, **kw)

    monkeypatch.setattr(D, "stream_sample", spy)
    demo(["--artifact", str(model), "--port", "inproc", "--episodes", "1", "--ways", "2",
          "--shots", "3", "--queries", "1"], tmp_path / "r.json")
    learning = [x for x in labels if "learning class" in x]
    assert len(learning) == 6 and all(x.endswith("from 3 examples") for x in learning)


def test_incontext_bad_options_are_one_line_errors(tmp_path, capsys):
    head = ["demo", "incontext", "--headless"]
    for opt, value in (("--episodes", "0"), ("--episodes", "-2"), ("--way", "0"),
                       ("--way", "-1")):
        fails(capsys, [*head, opt, value], f"{opt} must be >= 1")
    fails(capsys, [*head, "--model", str(tmp_path / "nonexist.json")], "no such file")
    readme = Path(__file__).resolve().parents[1] / "README.md"
    fails(capsys, [*head, "--model", str(readme)], "not an attention model JSON")
    fails(capsys, [*head, "--data", "nmnist", "--nmnist", str(tmp_path / "no")],
          "no such folder")
    fails(capsys, [*head, "--data", "nmnist", "--nmnist", str(tmp_path)], "no label list")
    if NMNIST.exists():
        fails(capsys, [*head, "--data", "nmnist", "--nmnist", str(NMNIST), "--way", "11"],
              "--way 11", "has 10 classes")


def test_fsm_step_must_be_positive(capsys):
    for step in ("0", "-5"):
        fails(capsys, ["demo", "fsm", "--step-ms", step], "--step-ms must be > 0")


def test_report_that_cannot_be_written_fails_before_the_demo(tmp_path, capsys, monkeypatch):
    from edgelearn import _cli_demo

    afile = tmp_path / "afile"
    afile.write_text("")
    ran = []
    for name, (module, _) in _cli_demo.DEMOS.items():
        monkeypatch.setattr(f"{module}.run", lambda args: ran.append(args) or 0)
        fails(capsys, ["demo", name, "--report", str(afile / "dir" / "r.json")],
              f"{afile} is not a folder")
        fails(capsys, ["demo", name, "--report", "/proc/r.json"], "--report /proc/r.json")
        fails(capsys, ["demo", name, "--report", str(tmp_path)], "is a folder")
    assert not ran and sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_help_lists_every_demo():
    from edgelearn import _cli_demo
    from edgelearn.cli import COMMANDS

    assert all(name in COMMANDS["demo"][1] for name in _cli_demo.DEMOS)


def test_core_learning_does_not_depend_on_steps(tmp_path):
    reports = []
    for steps in ("20", "300", "2000"):
        path = tmp_path / f"core{steps}.json"
        assert main(["demo", "core", "--steps", steps, "--report", str(path)]) == 0
        reports.append(json.loads(path.read_text()))
    assert reports[0]["learning"] == reports[1]["learning"] == reports[2]["learning"]
    assert reports[1]["learning"]["twin"]["accuracy"] == 1.0
