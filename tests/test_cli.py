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
