from __future__ import annotations

import pytest

from searcher.cli.main import main


@pytest.mark.slow
def test_space_show_marks_candidates_over_budget(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["space", "show", "--space", "digits", "--budget-gflops", "0.0001"]) == 0
    out = capsys.readouterr().out
    assert "90 candidates" in out
    assert "over: " in out and "fits" in out
    fitting = int(out.strip().splitlines()[-1].split()[0])
    assert 0 < fitting < 90


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["space", "show", "--space", "nope"],
            "unknown space preset 'nope'; valid: cifar, cifar-hetero",
        ),
        (["space", "show", "--budget-gflops", "-1"], "-1 must be > 0"),
        (["space", "show", "--budget-gflops", "abc"], "'abc' is not a number"),
        (["space", "show", "--space", "missing.yaml"], "space file missing.yaml does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def run_cli(argv: list[str]) -> int | str | None:
    """The exit status, whether the handler returned it or argparse exited."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code
