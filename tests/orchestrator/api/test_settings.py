"""API settings from the environment: a blank token is refused at start, with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.api.settings import Settings, SettingsError
from orchestrator.cli import main


@pytest.fixture(autouse=True)
def no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RUNGS_API_TOKEN", "RUNGS_API_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)


def test_a_whitespace_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNGS_API_TOKEN", " \t ")
    with pytest.raises(SettingsError, match="RUNGS_API_TOKEN is only whitespace"):
        Settings.from_env()


@pytest.mark.parametrize("content", ["", "\n\n", " \t \n"])
def test_an_empty_token_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "token"
    path.write_text(content)
    monkeypatch.setenv("RUNGS_API_TOKEN_FILE", str(path))
    with pytest.raises(SettingsError, match="is empty"):
        Settings.from_env()


def test_a_missing_token_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RUNGS_API_TOKEN_FILE", str(tmp_path / "absent"))
    with pytest.raises(SettingsError, match="cannot be read"):
        Settings.from_env()


def test_tokens_are_stripped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RUNGS_API_TOKEN", "  tok  ")
    assert Settings.from_env().api_token == "tok"
    monkeypatch.delenv("RUNGS_API_TOKEN")
    (tmp_path / "token").write_text("file-tok \nignored\n")
    monkeypatch.setenv("RUNGS_API_TOKEN_FILE", str(tmp_path / "token"))
    assert Settings.from_env().api_token == "file-tok"


def test_a_bad_number_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNGS_MAX_BODY_BYTES", "1MB")
    with pytest.raises(SettingsError, match="RUNGS_MAX_BODY_BYTES must be a number"):
        Settings.from_env()


def test_serve_stops_at_start_with_the_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RUNGS_API_TOKEN", "   ")
    assert main(["serve", "--workers", "0"]) == 2
    assert "rungs serve: RUNGS_API_TOKEN is only whitespace" in capsys.readouterr().err
