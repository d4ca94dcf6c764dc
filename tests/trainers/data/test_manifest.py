"""LibriMix-style manifests: parsing, relative paths, and the documented error messages."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from trainers.data.manifest import (
    EXTRA_COLUMNS,
    REQUIRED_COLUMNS,
    ManifestError,
    ShortClipWarning,
    read_manifest,
)

RATE = 8000


def _wav(path: Path, seconds: float, rate: int = RATE) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(0).normal(0, 0.1, round(seconds * rate)).astype(np.float32)
    sf.write(path, noise, rate, subtype="PCM_16")
    return str(path)


def _clip(root: Path, name: str, seconds: float = 1.5, rate: int = RATE) -> dict[str, str]:
    paths = {
        column: _wav(root / folder / f"{name}.wav", seconds, rate)
        for column, folder in (
            ("mixture_path", "mix_clean"),
            ("source_1_path", "s1"),
            ("source_2_path", "s2"),
        )
    }
    return {"mixture_ID": name, **paths, "length": str(round(seconds * rate))}


def _manifest(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_reads_absolute_and_relative_paths_and_extra_columns(tmp_path: Path) -> None:
    absolute = _clip(tmp_path, "m0")
    relative = _clip(tmp_path, "m1")
    relative = {k: v.replace(f"{tmp_path}/", "") for k, v in relative.items()}
    extra = dict(zip(EXTRA_COLUMNS, ["spk_a", "spk_b", "hello there", "good day"], strict=True))
    path = _manifest(
        tmp_path / "m.csv",
        [{**absolute, **extra}, {**relative, **extra}],
        REQUIRED_COLUMNS + EXTRA_COLUMNS,
    )
    records = read_manifest(path, sample_rate=RATE, min_seconds=1.0)
    assert [r.mixture_id for r in records] == ["m0", "m1"]
    assert records[1].mixture_path == tmp_path / "mix_clean" / "m1.wav"
    assert records[1].source_paths[1] == tmp_path / "s2" / "m1.wav"
    assert records[0].length == 12000
    assert records[0].speakers == ("spk_a", "spk_b")
    assert records[0].transcripts == ("hello there", "good day")


def test_missing_columns_are_listed(tmp_path: Path) -> None:
    path = _manifest(tmp_path / "m.csv", [_clip(tmp_path, "m0")], ("mixture_ID", "mixture_path"))
    with pytest.raises(ManifestError) as error:
        read_manifest(path)
    message = str(error.value)
    assert "lacks required column(s) source_1_path, source_2_path, length" in message
    assert "its columns are: mixture_ID, mixture_path" in message


def test_missing_file_names_row_column_and_path(tmp_path: Path) -> None:
    rows = [_clip(tmp_path, "m0"), _clip(tmp_path, "m1")]
    missing = Path(rows[1]["source_1_path"])
    missing.unlink()
    path = _manifest(tmp_path / "m.csv", rows, REQUIRED_COLUMNS)
    with pytest.raises(ManifestError, match="1 problem") as error:
        read_manifest(path, sample_rate=RATE)
    assert f"line 3 (m1): source_1_path file not found: {missing}" in str(error.value)


def test_wrong_sample_rate_names_file_and_both_rates(tmp_path: Path) -> None:
    rows = [_clip(tmp_path, "m0", rate=16000)]
    path = _manifest(tmp_path / "m.csv", rows, REQUIRED_COLUMNS)
    with pytest.raises(ManifestError) as error:
        read_manifest(path, sample_rate=RATE)
    message = str(error.value)
    assert "3 problem(s)" in message  # mixture and both sources
    assert f"{rows[0]['mixture_path']} is at 16000 Hz, but 8000 Hz was requested" in message


def test_unreadable_audio_is_named(tmp_path: Path) -> None:
    rows = [_clip(tmp_path, "m0")]
    Path(rows[0]["source_2_path"]).write_bytes(b"this is not a wav file at all")
    path = _manifest(tmp_path / "m.csv", rows, REQUIRED_COLUMNS)
    with pytest.raises(
        ManifestError, match=r"line 2 \(m0\): cannot read source_2_path .*s2/m0\.wav"
    ):
        read_manifest(path)


def test_sources_of_another_length_are_an_error(tmp_path: Path) -> None:
    rows = [_clip(tmp_path, "m0")]
    _wav(Path(rows[0]["source_1_path"]), 1.0)
    path = _manifest(tmp_path / "m.csv", rows, REQUIRED_COLUMNS)
    with pytest.raises(ManifestError, match=r"differ in length \(\[12000, 8000, 12000\]"):
        read_manifest(path)


def test_short_clips_are_skipped_with_a_counted_warning(tmp_path: Path) -> None:
    rows = [_clip(tmp_path, "long", 1.5), _clip(tmp_path, "short", 0.5)]
    path = _manifest(tmp_path / "m.csv", rows, REQUIRED_COLUMNS)
    with pytest.warns(ShortClipWarning, match=r"1 of 2 clip\(s\) are shorter than the 1.0 s") as w:
        records = read_manifest(path, sample_rate=RATE, min_seconds=1.0)
    assert "line 3 (short): 4000 samples" in str(w[0].message)
    assert [r.mixture_id for r in records] == ["long"]


def test_short_clips_can_be_an_error(tmp_path: Path) -> None:
    rows = [_clip(tmp_path, "long", 1.5), _clip(tmp_path, "short", 0.5)]
    path = _manifest(tmp_path / "m.csv", rows, REQUIRED_COLUMNS)
    with pytest.raises(ManifestError, match=r"line 3 \(short\): 4000 samples"):
        read_manifest(path, sample_rate=RATE, min_seconds=1.0, on_short="error")


def test_missing_manifest_and_empty_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest not found"):
        read_manifest(tmp_path / "nope.csv")
    empty = _manifest(tmp_path / "empty.csv", [], REQUIRED_COLUMNS)
    with pytest.raises(ManifestError, match="has a header but no rows"):
        read_manifest(empty)


def test_bad_length_value_names_the_line(tmp_path: Path) -> None:
    rows = [{**_clip(tmp_path, "m0"), "length": "long"}]
    path = _manifest(tmp_path / "m.csv", rows, REQUIRED_COLUMNS)
    with pytest.raises(ManifestError, match=r"line 2 \(m0\): length 'long' is not a number"):
        read_manifest(path, check_files=False)
