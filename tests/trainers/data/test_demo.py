"""The demo corpus: layout, determinism, disjoint speakers, caching, growth, locking."""

from __future__ import annotations

import csv
import fcntl
import hashlib
import json
import threading
from pathlib import Path
from typing import IO

import numpy as np
import pytest
import soundfile as sf

import trainers.data.demo as demo
from trainers.data.demo import default_cache_dir, speaker_pools, synthesize_demo_corpus
from trainers.data.manifest import EXTRA_COLUMNS, REQUIRED_COLUMNS

SIZE, VALID = 8, 4


def _make(root: Path, size: int = SIZE, seed: int = 0, valid_size: int = VALID) -> Path:
    return synthesize_demo_corpus(root, size, seed=seed, valid_size=valid_size)


def _digest(root: Path) -> dict[str, str]:
    """sha256 of every file of the corpus (the lock file aside)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make(tmp_path_factory.mktemp("corpus")).parent


def test_layout_columns_and_audio(corpus: Path) -> None:
    for split, n in (("train", SIZE), ("valid", VALID)):
        with open(corpus / f"{split}.csv", newline="") as handle:
            header = next(csv.reader(handle))
        assert header == [*REQUIRED_COLUMNS, *EXTRA_COLUMNS]
        rows = _rows(corpus / f"{split}.csv")
        assert len(rows) == n
        for kind in ("mix_clean", "s1", "s2"):
            assert len(list((corpus / "wav8k/min" / split / kind).glob("*.wav"))) == n
    row = _rows(corpus / "train.csv")[0]
    assert row["mixture_path"] == f"wav8k/min/train/mix_clean/{row['mixture_ID']}.wav"
    info = sf.info(str(corpus / row["mixture_path"]))
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (8000, 1, "PCM_16", 24000)
    assert row["length"] == "24000"
    assert json.loads((corpus / "corpus.json").read_text())["sizes"] == {
        "train": SIZE,
        "valid": VALID,
    }


def test_mixture_is_the_sum_of_non_silent_sources(corpus: Path) -> None:
    for row in _rows(corpus / "train.csv")[:3]:
        mix, s1, s2 = (
            sf.read(str(corpus / row[c]), dtype="int16")[0].astype(np.int32)
            for c in ("mixture_path", "source_1_path", "source_2_path")
        )
        assert np.array_equal(mix, s1 + s2)
        for source in (s1, s2):
            assert np.sqrt(np.mean((source / 32768.0) ** 2)) > 0.005
        assert np.abs(mix).max() < 32767


def test_transcripts_are_words_and_speakers_differ(corpus: Path) -> None:
    for row in _rows(corpus / "train.csv"):
        assert row["speaker_1"] != row["speaker_2"]
        for key in ("transcript_1", "transcript_2"):
            words = row[key].split()
            assert len(words) >= 3 and all(w.isalpha() and w.islower() for w in words)


def test_train_and_valid_speakers_are_disjoint(corpus: Path) -> None:
    def speakers(split: str) -> set[str]:
        rows = _rows(corpus / f"{split}.csv")
        return {row[k] for row in rows for k in ("speaker_1", "speaker_2")}

    assert not speakers("train") & speakers("valid")
    pools = speaker_pools(0)
    train = {v.speaker_id for group in pools["train"] for v in group}
    valid = {v.speaker_id for group in pools["valid"] for v in group}
    assert not train & valid
    assert len(train) + len(valid) >= 200
    assert speakers("train") <= train and speakers("valid") <= valid
    variants = {v.variant for group in pools["valid"] for v in group}
    assert not variants & {v.variant for group in pools["train"] for v in group}


def test_same_seed_same_bytes_other_seed_other_bytes(corpus: Path, tmp_path: Path) -> None:
    again, other = tmp_path / "again", tmp_path / "other"
    _make(again)
    _make(other, seed=1)
    assert _digest(again) == _digest(corpus)
    assert (other / "train.csv").read_bytes() != (corpus / "train.csv").read_bytes()
    wav = "wav8k/min/train/mix_clean/train_000000.wav"
    assert (other / wav).read_bytes() != (corpus / wav).read_bytes()


def test_same_parameters_or_smaller_size_are_a_no_op(corpus: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in corpus.rglob("*") if p.is_file()}
    assert _make(corpus) == corpus / "train.csv"
    _make(corpus, size=3, valid_size=2)
    after = {p: p.stat().st_mtime_ns for p in corpus.rglob("*") if p.is_file()}
    assert after == before


def test_growing_appends_without_touching_existing_clips(corpus: Path, tmp_path: Path) -> None:
    grown = tmp_path / "grown"
    _make(grown, size=5, valid_size=2)
    old = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in grown.rglob("*.wav")}
    _make(grown, size=SIZE, valid_size=VALID)
    assert all((p.stat().st_mtime_ns, p.read_bytes()) == kept for p, kept in old.items())
    # ... and the grown corpus is the corpus made at full size in one go.
    assert _digest(grown) == _digest(corpus)


def test_other_parameters_in_the_same_directory_are_refused(corpus: Path) -> None:
    with pytest.raises(ValueError, match="holds a demo corpus made with"):
        synthesize_demo_corpus(corpus, SIZE, seed=5, valid_size=VALID)


def test_worker_processes_write_the_same_bytes(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNGS_DEMO_WORKERS", "2")
    monkeypatch.setattr(demo, "_CLIPS_PER_WORKER", 2)
    pooled = tmp_path / "pooled"
    _make(pooled)
    assert _digest(pooled) == _digest(corpus)


def test_a_second_writer_waits_for_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the corpus lock is held, a second writer asks for it, finds it taken and waits
    before writing anything; it writes once the lock is released."""
    root = tmp_path / "locked"
    root.mkdir()
    arrived, asked, done = threading.Event(), threading.Event(), threading.Event()
    found_taken: list[bool] = []
    real_flock = fcntl.flock

    def probing_flock(handle: IO[str], operation: int) -> None:
        """In the writer: try the lock without blocking first, to record whether it is taken."""
        if threading.current_thread() is not writer or operation & fcntl.LOCK_UN:
            return real_flock(handle, operation)
        try:
            real_flock(handle, operation | fcntl.LOCK_NB)
            found_taken.append(False)
        except BlockingIOError:
            found_taken.append(True)
        asked.set()
        arrived.set()
        if found_taken[-1]:
            real_flock(handle, operation)  # now wait for it, as the product does

    def make() -> None:
        _make(root, size=2, valid_size=1)
        done.set()
        arrived.set()

    monkeypatch.setattr(fcntl, "flock", probing_flock)
    writer = threading.Thread(target=make)
    with demo._corpus_lock(root):
        writer.start()
        assert arrived.wait(timeout=60), "the second writer neither asked for the lock nor finished"
        assert asked.is_set(), "the second writer finished without asking for the lock"
        assert found_taken == [True], "the second writer got the lock while it was held"
        assert sorted(p.name for p in root.iterdir()) == [".lock"]  # nothing written yet
    writer.join(timeout=60)
    assert done.is_set() and (root / "corpus.json").exists()


def test_default_cache_dir_follows_rungs_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNGS_HOME", "/srv/rungs")
    assert default_cache_dir() == Path("/srv/rungs/demo-corpus")
    monkeypatch.delenv("RUNGS_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "rungs" / "demo-corpus"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 0}, "at least one clip per split"),
        ({"sample_rate": 1000}, "sample_rate must be at least 4000"),
        ({"segment_seconds": 0.1}, "segment_seconds must be within"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        synthesize_demo_corpus(tmp_path, **{"size": 2, **kwargs})
