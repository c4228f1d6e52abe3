"""The small ``edgelearn`` subcommands end to end: ``rule check`` and ``inspect``'s errors.

(``inspect`` of a good artifact is in tests/test_artifact.py, ``sim`` in tests/test_twin.py.)
"""

from edgelearn import rule
from edgelearn.cli import main


def test_rule_check_prints_a_shipped_rule_and_its_microcode(capsys):
    assert main(["rule", "check", "error_triggered", "--hex"]) == 0
    out = capsys.readouterr().out
    code = rule.shipped("error_triggered").microcode()
    assert out.startswith(rule.shipped("error_triggered").text())
    assert f"# microcode: {len(code)} bytes" in out and code.hex(" ") in out


def test_rule_check_reads_a_file(tmp_path, capsys):
    (tmp_path / "r.rule").write_text("dw = 2^-3 * x1 * r\nt_epoch = 4\n")
    assert main(["rule", "check", str(tmp_path / "r.rule")]) == 0
    out = capsys.readouterr().out
    assert "t_epoch = 4" in out and "# hyperparameters: coef=[1]" in out


def test_rule_check_errors_are_one_line_with_exit_status_2(tmp_path, capsys):
    missing, bad = tmp_path / "missing.rule", tmp_path / "bad.rule"
    assert main(["rule", "check", str(missing)]) == 2
    assert capsys.readouterr().err == f"edgelearn rule: error: {missing}: no such file\n"
    bad.write_text("dw = 2^-3 * x1 * q\n")
    assert main(["rule", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"edgelearn rule: error: {bad}:line 1") and err.count("\n") == 1


def test_inspect_of_a_missing_file_is_a_usage_error(tmp_path, capsys):
    missing = tmp_path / "none.elm"
    assert main(["inspect", str(missing)]) == 2
    assert capsys.readouterr().err == f"edgelearn inspect: error: {missing}: no such file\n"


def test_paths_that_are_not_files_are_one_line_errors(tmp_path, capsys):
    # a directory or a binary file where a file (or a text file) is expected, an output folder
    # that does not exist: one line naming the path and exit status 2, never a traceback
    from pathlib import Path

    shipped = str(Path(__file__).resolve().parent.parent / "edgelearn" / "data"
                  / "oneshot_default.elm")
    assert main(["inspect", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"edgelearn inspect: error: {tmp_path}: is a directory, " \
                                      f"not a file\n"
    assert main(["rule", "check", shipped]) == 2
    assert "not a text file" in capsys.readouterr().err
    out = tmp_path / "no" / "such" / "folder" / "r.json"
    assert main(["evaluate", shipped, "--episodes", "1", "--queries", "1", "--quiet",
                 "--json", str(out)]) == 2
    assert capsys.readouterr().err == (f"edgelearn evaluate: error: --json {out}: its folder "
                                       f"does not exist\n")  # before any episode


def test_inspect_shows_the_source_version(capsys):
    from pathlib import Path

    from edgelearn import artifact

    path = Path(__file__).resolve().parent.parent / "edgelearn" / "data" / "oneshot_default.elm"
    assert main(["inspect", str(path)]) == 0
    version = artifact.load(path).manifest["source_version"]
    assert f"  source_version: {version}\n" in capsys.readouterr().out


def test_outputs_are_named_as_written(tmp_path, capsys):
    # numpy appends .npz to any other name: the command says the file it really wrote, and a
    # directory given as the output is refused (numpy would write DIR.npz beside it)
    from pathlib import Path

    machine = Path(__file__).resolve().parent.parent / "edgelearn" / "data" / "fsm_example.toml"
    assert main(["fsm", "compile", str(machine), "-n", "1000", "-o", str(tmp_path / "m.w")]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"-> {tmp_path / 'm.w.npz'}")
    assert (tmp_path / "m.w.npz").is_file()
    assert main(["fsm", "compile", str(machine), "-o", str(tmp_path)]) == 2
    assert "is a directory; name the output file" in capsys.readouterr().err
    # -n 0 is refused, not taken as "the default size"
    assert main(["fsm", "compile", str(machine), "-n", "0", "-o", str(tmp_path / "z.npz")]) == 2
    assert "got 0" in capsys.readouterr().err


def test_events_generate_refuses_a_folder_with_files(tmp_path, capsys):
    out = tmp_path / "g"
    assert main(["events", "generate", "glyphs", str(out), "--classes", "2", "--samples", "1"]) == 0
    assert main(["events", "generate", "glyphs", str(out), "--classes", "1", "--samples", "1"]) == 2
    assert "already holds files" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["0", "1", "dataset.json"]  # untouched


def test_an_output_path_through_a_file_is_a_one_line_error(tmp_path, capsys):
    # any subcommand: an OSError about a path the user gave ends as one line naming it, exit 2
    from pathlib import Path

    machine = Path(__file__).resolve().parent.parent / "edgelearn" / "data" / "fsm_example.toml"
    (tmp_path / "f").write_text("a file, not a folder")
    out = tmp_path / "f" / "m.npz"
    assert main(["fsm", "compile", str(machine), "-n", "1000", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("edgelearn fsm: error: ") and str(tmp_path / "f") in err
    assert err.count("\n") == 1
