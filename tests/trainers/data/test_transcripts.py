"""The 29-symbol alphabet, greedy CTC decoding, and transcript CSVs: fixed-shape items with
real lengths and int64 targets (int32 targets fail in CTC's ``gather``), and errors that name
the rows."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from trainers.api import DataRequest
from trainers.data.manifest import ManifestError
from trainers.data.transcripts import (
    ALPHABET,
    BLANK,
    build_transcript_data,
    decode,
    encode,
    greedy_decode,
    read_transcript_csv,
)

RATE = 8000


def test_alphabet_is_blank_apostrophe_letters_space() -> None:
    assert len(ALPHABET) == 29 and BLANK == 0
    assert (
        ALPHABET[1] == "'"
        and ALPHABET[2:28] == "abcdefghijklmnopqrstuvwxyz"
        and ALPHABET[28] == " "
    )


def test_encode_normalises_and_round_trips() -> None:
    assert decode(encode("  Don't   STOP ")) == "don't stop"
    with pytest.raises(ValueError, match=r"characters \['!', '3'\]"):
        encode("hi 3!")


def test_greedy_decode_merges_repeats_then_drops_blanks() -> None:
    a, b = encode("a")[0], encode("b")[0]
    assert greedy_decode([a, a, BLANK, a, b, b, BLANK, BLANK]) == "aab"


def write_clip(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * RATE)) / RATE
    audio = 0.3 * np.sin(2 * np.pi * 300 * t)
    padded = np.concatenate([audio, np.zeros(800)])  # trailing digital silence: not speech
    sf.write(path, padded, RATE, subtype="PCM_16")


def make_csv(root: Path, rows: list[tuple[str, str]]) -> Path:
    for name, _ in rows:
        if not name.startswith("missing"):
            write_clip(root / name, 0.3 + 0.1 * len(name))
    lines = ["path,transcript", *(f"{name},{text}" for name, text in rows)]
    (root / "list.csv").write_text("\n".join(lines) + "\n")
    return root / "list.csv"


def test_items_have_fixed_shapes_real_lengths_and_int64_targets(tmp_path: Path) -> None:
    csv_path = make_csv(tmp_path, [("a.wav", "hello world"), ("bb/c.wav", "hi")])
    request = DataRequest(
        kind="manifest",
        train_manifest=str(csv_path),
        valid_manifest=str(csv_path),
        sample_rate=RATE,
    )
    data = build_transcript_data(request, subset_size=2)
    items = [data.train[i] for i in range(2)]
    audio, length, target, target_length = torch.utils.data.default_collate(items)
    assert target.dtype == torch.int64 and target_length.dtype == torch.int64
    texts = {decode(t[: int(n)].tolist()) for t, n in zip(target, target_length, strict=True)}
    assert texts == {"hello world", "hi"}
    lengths = sorted(length.tolist())
    # the real lengths (speech without the trailing zeros), not the padded batch length
    assert lengths[0] < lengths[1] == audio.shape[1]
    assert all(
        abs(n - round((0.3 + 0.1 * k) * RATE)) <= 1 for n, k in zip(lengths, (5, 8), strict=True)
    )


def test_csv_errors_list_every_problem(tmp_path: Path) -> None:
    csv_path = make_csv(
        tmp_path, [("a.wav", "fine"), ("missing.wav", "gone"), ("b.wav", "n0 digits")]
    )
    with pytest.raises(ManifestError) as error:
        read_transcript_csv(csv_path)
    message = str(error.value)
    assert (
        "line 3" in message
        and "missing.wav" in message
        and "line 4" in message
        and "'0'" in message
    )
    bad_header = tmp_path / "h.csv"
    bad_header.write_text("file,text\na.wav,x\n")
    with pytest.raises(ManifestError, match=r"missing columns \['path', 'transcript'\]"):
        read_transcript_csv(bad_header)


def test_manifest_request_needs_both_csvs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs train_manifest and valid_manifest"):
        build_transcript_data(DataRequest(kind="manifest", train_manifest="x.csv"), 1)
