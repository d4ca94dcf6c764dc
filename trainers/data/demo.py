"""The built-in demo corpus: two-speaker mixtures of espeak-ng speech, in LibriMix layout.

Speakers are espeak-ng voices: an English accent (base voice) x a voice variant, each with its
own pitch and rate. Train and valid use disjoint sets of variants, so no valid speaker (or
timbre) is ever heard in training. Every clip is a pure function of ``(seed, split, index)``:
its own random generator picks the two speakers, their sentences and the mixing levels, and
each utterance is synthesised from pristine library state (see :mod:`trainers.data.espeak`).
So a corpus is byte-identical for a seed, and growing it only appends clips.

Layout under ``out_dir`` (paths in the CSVs are relative to ``out_dir``)::

    corpus.json                              the parameters and sizes (written last)
    train.csv, valid.csv                     LibriMix columns + speakers and transcripts
    wav8k/min/{train,valid}/{mix_clean,s1,s2}/{mixture_ID}.wav   16-bit PCM, mono

The mixture file is exactly the sum of the two source files (integer samples).
"""

from __future__ import annotations

import fcntl
import io
import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import firwin, resample_poly

from trainers.data.espeak import ENGLISH_VOICES, Utterance, Voice, list_variants, synthesize
from trainers.data.manifest import read_csv_rows, write_csv_rows
from trainers.data.words import random_sentence

SPLITS: tuple[str, ...] = ("train", "valid")
_SPLIT_CODE = {"train": 0, "valid": 1}
_VALID_VARIANT_FRACTION = 0.2
_PITCH_RANGE = (20, 80)  # espeak-ng pitch, 0..99
_RATE_RANGE = (130, 210)  # words per minute
_SNR_DB = 5.0  # source 1 over source 2, drawn uniformly in [-5, 5] dB
_LEVEL_DBFS = (-30.0, -20.0)  # RMS of the mixture
_PEAK = 0.9  # the loudest of mixture and sources stays below this (no clipping)
_FADE_SECONDS = 0.01  # fade-out where an utterance is cut at a word boundary
_CLIPS_PER_WORKER = 64
_FORMAT = 1  # bump when the same parameters would give different files


@dataclass(frozen=True)
class ClipPlan:
    """Everything random about one mixture, decided before any audio is made."""

    split: str
    index: int
    voices: tuple[Voice, Voice]
    texts: tuple[str, str]
    snr_db: float
    level_dbfs: float

    @property
    def mixture_id(self) -> str:
        return f"{self.split}_{self.index:06d}"


@dataclass(frozen=True)
class CorpusStamp:
    """``corpus.json``: what identifies a corpus (seed, rate, segment) and how many clips it has."""

    seed: int
    sample_rate: int
    segment_seconds: float
    sizes: dict[str, int]
    format: int = _FORMAT

    def identity(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if k != "sizes"}

    def covers(self, wanted: CorpusStamp) -> bool:
        """Same corpus and at least as many clips in every split."""
        return self.identity() == wanted.identity() and all(
            self.sizes.get(split, 0) >= n for split, n in wanted.sizes.items()
        )

    def check_same_corpus(self, wanted: CorpusStamp, out_dir: Path) -> None:
        if self.identity() != wanted.identity():
            raise ValueError(
                f"{out_dir} holds a demo corpus made with {self.identity()}, but {wanted.identity()} "
                "was asked for; use another directory for other parameters"
            )


def _read_stamp(out_dir: Path) -> CorpusStamp | None:
    path = out_dir / "corpus.json"
    if not path.exists():
        return None
    return CorpusStamp(**json.loads(path.read_text()))


def _write_stamp(out_dir: Path, stamp: CorpusStamp) -> None:
    # Write-then-rename: a reader sees the old stamp or the new one, never half of one.
    tmp = out_dir / "corpus.json.tmp"
    tmp.write_text(json.dumps(asdict(stamp), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, out_dir / "corpus.json")


@contextmanager
def _corpus_lock(out_dir: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``out_dir/.lock`` (released when the process dies too)."""
    with open(out_dir / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def default_cache_dir() -> Path:
    """``$RUNGS_HOME/demo-corpus``, or ``~/.cache/rungs/demo-corpus`` when RUNGS_HOME is unset."""
    home = os.environ.get("RUNGS_HOME")
    root = Path(home) if home else Path.home() / ".cache" / "rungs"
    return root / "demo-corpus"


def audio_folder(sample_rate: int) -> str:
    """LibriMix's folder for a rate: ``wav8k/min`` for 8000 Hz, ``wav16k/min`` for 16000 Hz."""
    name = f"wav{sample_rate // 1000}k" if sample_rate % 1000 == 0 else f"wav{sample_rate}hz"
    return f"{name}/min"


@cache
def speaker_pools(seed: int) -> dict[str, tuple[tuple[Voice, ...], ...]]:
    """Per split, the speakers grouped by variant (one speaker per accent in each group).

    The variants are shuffled with ``seed`` and split ~80/20 between train and valid, so the
    two splits share no speaker and no variant. Each speaker gets its own pitch and rate.
    """
    rng = np.random.default_rng([seed, 1000])
    variants = ["", *list_variants()]
    order = rng.permutation(len(variants))
    n_valid = max(2, round(len(variants) * _VALID_VARIANT_FRACTION))
    groups = {"valid": order[:n_valid], "train": order[n_valid:]}
    return {
        split: tuple(
            tuple(_voice(rng, base, variants[int(v)]) for base in ENGLISH_VOICES) for v in picks
        )
        for split, picks in groups.items()
    }


def _voice(rng: np.random.Generator, base: str, variant: str) -> Voice:
    pitch = int(rng.integers(_PITCH_RANGE[0], _PITCH_RANGE[1] + 1))
    rate = int(rng.integers(_RATE_RANGE[0], _RATE_RANGE[1] + 1))
    return Voice(base, variant, pitch, rate)


def plan_clip(seed: int, split: str, index: int, segment_seconds: float) -> ClipPlan:
    """The random choices of clip ``index`` of ``split``: two speakers of different variants,
    a sentence each (long enough to fill the segment), the relative level and the loudness."""
    rng = np.random.default_rng([seed, _SPLIT_CODE[split], index])
    groups = speaker_pools(seed)[split]
    picks = rng.choice(len(groups), size=2, replace=False)
    voices = tuple(groups[int(g)][int(rng.integers(len(groups[int(g)])))] for g in picks)
    # espeak-ng speaks these short words faster than the nominal rate; +3 words makes the
    # sentence overrun the segment, which is then cut at a word boundary.
    texts = tuple(
        random_sentence(rng, math.ceil(segment_seconds * v.rate / 60) + 3) for v in voices
    )
    snr = float(rng.uniform(-_SNR_DB, _SNR_DB))
    level = float(rng.uniform(*_LEVEL_DBFS))
    return ClipPlan(split, index, (voices[0], voices[1]), (texts[0], texts[1]), snr, level)


def _fit_words(utterance: Utterance, limit: int) -> tuple[np.ndarray, str]:
    """The longest run of whole words that fits in ``limit`` native samples, and its words.

    Word ``k`` ends where word ``k + 1`` starts. At least the first word is kept (cut short
    only if it alone overruns the limit, which no sentence of the demo does).
    """
    wave, words = utterance.wave, utterance.words
    ends = [start for _, start in words[1:]] + [len(wave)]
    kept = max(1, sum(1 for end in ends if end <= limit))
    cut = min(ends[kept - 1], limit)
    piece = wave[:cut].copy()
    if cut < len(wave):
        fade = min(cut, int(_FADE_SECONDS * utterance.sample_rate))
        piece[cut - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return piece, " ".join(word for word, _ in words[:kept])


def _render_source(
    text: str, voice: Voice, sample_rate: int, n_samples: int
) -> tuple[np.ndarray, str]:
    """One speaker's utterance at ``sample_rate``, zero-padded to ``n_samples``; its words."""
    utterance = synthesize(text, voice)
    native = utterance.sample_rate
    piece, transcript = _fit_words(utterance, n_samples * native // sample_rate)
    g = math.gcd(sample_rate, native)
    up, down = sample_rate // g, native // g
    resampled = resample_poly(piece, up, down, window=_lowpass(up, down)).astype(np.float32)
    out = np.zeros(n_samples, dtype=np.float32)
    out[: min(n_samples, len(resampled))] = resampled[:n_samples]
    return out, transcript


@cache
def _lowpass(up: int, down: int) -> np.ndarray:
    """resample_poly's default filter, designed once per ratio instead of once per call."""
    max_rate = max(up, down)
    return firwin(20 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))


@cache
def _wav_header(sample_rate: int, n_samples: int) -> bytes:
    """The header soundfile writes for a mono 16-bit PCM WAV of ``n_samples``.

    Every clip of a corpus has the same length, so files are this header plus the samples:
    the same bytes as ``soundfile.write`` gives, without its per-file fsync and Python I/O
    callbacks (3 files per clip made writing as slow as synthesis).
    """
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(n_samples, np.int16), sample_rate, subtype="PCM_16", format="WAV")
    return buffer.getvalue()[: -2 * n_samples]


def _write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    path.write_bytes(_wav_header(sample_rate, len(audio)) + audio.astype("<i2").tobytes())


def _mix(sources: list[np.ndarray], snr_db: float, level_dbfs: float) -> np.ndarray:
    """Int16 sources ``[2, T]`` scaled to ``snr_db`` apart and ``level_dbfs`` overall, such
    that their (int) sum, the mixture, does not clip."""
    unit = [s / max(float(np.sqrt(np.mean(s**2))), 1e-6) for s in sources]
    scaled = np.stack([unit[0] * 10 ** (snr_db / 40), unit[1] * 10 ** (-snr_db / 40)])
    mixture = scaled.sum(axis=0)
    gain = 10 ** (level_dbfs / 20) / max(float(np.sqrt(np.mean(mixture**2))), 1e-6)
    peak = max(float(np.abs(mixture).max()), float(np.abs(scaled).max())) * gain
    if peak > _PEAK:
        gain *= _PEAK / peak
    return np.round(scaled * gain * 32767).astype(np.int16)


@dataclass(frozen=True)
class _Job:
    plan: ClipPlan
    out_dir: Path
    sample_rate: int
    n_samples: int


def _render_clip(job: _Job) -> list[str]:
    """Synthesise, mix and write one clip; return its CSV row."""
    plan, rate = job.plan, job.sample_rate
    rendered = [
        _render_source(text, voice, rate, job.n_samples)
        for text, voice in zip(plan.texts, plan.voices, strict=True)
    ]
    sources = _mix([wave for wave, _ in rendered], plan.snr_db, plan.level_dbfs)
    mixture = sources.astype(np.int32).sum(axis=0).astype(np.int16)
    rel = Path(audio_folder(rate)) / plan.split
    paths = [rel / kind / f"{plan.mixture_id}.wav" for kind in ("mix_clean", "s1", "s2")]
    for path, audio in zip(paths, [mixture, sources[0], sources[1]], strict=True):
        _write_wav(job.out_dir / path, audio, rate)
    speakers = [voice.speaker_id for voice in plan.voices]
    transcripts = [transcript for _, transcript in rendered]
    return [plan.mixture_id, *map(str, paths), str(job.n_samples), *speakers, *transcripts]


def _workers(n_jobs: int) -> int:
    """Worker processes for ``n_jobs`` clips: ``RUNGS_DEMO_WORKERS`` (default: the cores, up to 8),
    but one per ``_CLIPS_PER_WORKER`` clips at most, since spawning one costs ~0.5 s."""
    wanted = int(os.environ.get("RUNGS_DEMO_WORKERS", min(8, os.cpu_count() or 1)))
    return max(1, min(wanted, n_jobs // _CLIPS_PER_WORKER))


def _render_all(jobs: list[_Job], progress: bool) -> list[list[str]]:
    """Render ``jobs`` (in spawned worker processes when there are many), rows in job order.

    Spawn, not fork: the caller may hold torch or Ray threads. A process pool from
    ``concurrent.futures`` fails fast when a worker dies, where ``multiprocessing.Pool`` would
    replace it forever.
    """
    workers = _workers(len(jobs))
    start = time.perf_counter()
    if workers == 1:
        return _collect(map(_render_clip, jobs), len(jobs), start, progress)
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            results = pool.map(_render_clip, jobs, chunksize=16)
            return _collect(results, len(jobs), start, progress)
    except BrokenProcessPool as error:
        raise RuntimeError(
            "a demo-corpus worker process died (its traceback is above); a script that makes "
            "the corpus must do so under `if __name__ == '__main__':`"
        ) from error


def _collect(
    iterator: Iterable[list[str]], total: int, start: float, progress: bool
) -> list[list[str]]:
    rows: list[list[str]] = []
    for row in iterator:
        rows.append(row)
        if progress and (len(rows) % 500 == 0 or len(rows) == total):
            rate = len(rows) / max(time.perf_counter() - start, 1e-9)
            print(f"demo corpus: {len(rows)}/{total} clips ({rate:.0f} clips/s)", file=sys.stderr)
    return rows


def _jobs(out_dir: Path, stamp: CorpusStamp, split: str, indices: range) -> list[_Job]:
    for kind in ("mix_clean", "s1", "s2"):
        folder = out_dir / audio_folder(stamp.sample_rate) / split / kind
        folder.mkdir(parents=True, exist_ok=True)
    n_samples = round(stamp.segment_seconds * stamp.sample_rate)
    return [
        _Job(plan, out_dir, stamp.sample_rate, n_samples)
        for plan in (plan_clip(stamp.seed, split, i, stamp.segment_seconds) for i in indices)
    ]


def _grow(out_dir: Path, stamp: CorpusStamp, wanted: CorpusStamp, progress: bool) -> CorpusStamp:
    """Append the missing clips of every split (one worker pool for all of them); existing
    files and CSV rows stay as they are. Returns the stamp of the grown corpus."""
    missing = {
        split: range(stamp.sizes.get(split, 0), wanted.sizes[split])
        for split in SPLITS
        if wanted.sizes[split] > stamp.sizes.get(split, 0)
    }
    jobs = [job for split, ix in missing.items() for job in _jobs(out_dir, stamp, split, ix)]
    rendered = iter(_render_all(jobs, progress))
    sizes = dict(stamp.sizes)
    for split, indices in missing.items():
        csv_path = out_dir / f"{split}.csv"
        old = read_csv_rows(csv_path)[: indices.start] if indices.start else []
        write_csv_rows(csv_path, old + [next(rendered) for _ in indices])
        sizes[split] = indices.stop
    return replace(stamp, sizes=sizes)


def synthesize_demo_corpus(
    out_dir: str | Path,
    size: int,
    seed: int = 0,
    sample_rate: int = 8000,
    valid_size: int = 200,
    segment_seconds: float = 3.0,
    progress: bool = False,
) -> Path:
    """Make (or reuse, or grow) the demo corpus in ``out_dir``; return the train CSV's path.

    ``size`` train and ``valid_size`` valid mixtures of ``segment_seconds`` each. The result is
    byte-identical for the same arguments. If ``out_dir`` already holds a corpus with the same
    ``seed``, ``sample_rate`` and ``segment_seconds``, only missing clips are made: asking for
    no more clips than it has is a no-op, asking for more appends clips without touching the
    existing ones (so a subset of the first N clips never changes). A CSV may then hold more
    rows than asked for; readers take the first ``size`` / ``valid_size``. A corpus made with
    other parameters raises ``ValueError``. An exclusive lock on ``out_dir/.lock`` makes
    concurrent callers wait for one writer.
    """
    _check_args(size, valid_size, sample_rate, segment_seconds)
    _check_not_bootstrapping()
    out_dir = Path(out_dir)
    wanted = CorpusStamp(
        seed, sample_rate, float(segment_seconds), {"train": size, "valid": valid_size}
    )
    current = _read_stamp(out_dir)
    if current is not None and current.covers(wanted):
        return out_dir / "train.csv"  # fast path: corpus.json is written last, atomically
    out_dir.mkdir(parents=True, exist_ok=True)
    with _corpus_lock(out_dir):
        stamp = _read_stamp(out_dir) or replace(wanted, sizes={})
        stamp.check_same_corpus(wanted, out_dir)
        if not stamp.covers(wanted):
            _write_stamp(out_dir, _grow(out_dir, stamp, wanted, progress))
    return out_dir / "train.csv"


def _check_not_bootstrapping() -> None:
    # A spawned worker first imports the parent's main module. A script that calls this at
    # module level would, in each worker, wait forever for the lock its parent holds.
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise RuntimeError(
            "synthesize_demo_corpus was called while a worker process imported the main "
            "module; call it under `if __name__ == '__main__':`"
        )


def _check_args(size: int, valid_size: int, sample_rate: int, segment_seconds: float) -> None:
    if size < 1 or valid_size < 1:
        raise ValueError(
            f"the demo corpus needs at least one clip per split, but got {size=}, {valid_size=}"
        )
    if sample_rate < 4000:
        raise ValueError(f"sample_rate must be at least 4000 Hz, but got {sample_rate=}")
    if not 0.5 <= segment_seconds <= 30:
        raise ValueError(f"segment_seconds must be within 0.5..30, but got {segment_seconds=}")
