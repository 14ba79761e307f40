"""The command line: help with examples, usage errors, exit codes, --json."""

from __future__ import annotations

import json

import pytest

from radval import cli
from radval.exceptions import EXIT_NOINPUT, EXIT_USAGE


def test_top_level_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out
    assert "Exit codes" in out


def test_unknown_command_is_usage_error() -> None:
    assert cli.main(["no-such-command"]) == EXIT_USAGE
    assert cli.main([]) == EXIT_USAGE


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_subcommand_has_help_with_example(name: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert "example:" in out
    assert f"radval {name}" in out
    assert "--json" in out
    assert "not implemented" not in out


def test_missing_option_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["extract"]) == EXIT_USAGE


def test_missing_input_json(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    code = cli.main(["extract", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o"),
                     "--json"])
    assert code == EXIT_NOINPUT
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False
    assert payload["exit_code"] == EXIT_NOINPUT
    assert "nope.csv" in payload["errors"][0]["message"]
