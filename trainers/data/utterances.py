"""Utterances with speaker ids (and maybe transcripts), decoded audio and the crop datasets that
speaker verification (:mod:`trainers.data.verification`), speaker classification
(:mod:`trainers.data.classification`) and CTC (:mod:`trainers.data.transcripts`) build on.

Sources of utterances (``Utterance``: a path, a speaker id, maybe a transcript):

* the demo corpus: each mixture's single-speaker sources ``s1``/``s2`` with its ``speaker_1``/
  ``speaker_2`` columns (:func:`demo_utterances`); the demo's train and valid splits share no
  speaker, so verification validates on unseen speakers for free;
* a VoxCeleb-style tree ``root/speaker/video/utt.wav`` (:func:`tree_utterances`).

Subsets follow the nested rule: on the demo, the first ``subset_size`` utterances (its clips are
independent draws, so a prefix is already a random sample and stays the same however far the
shared corpus grows, as in :mod:`trainers.data.datasets`); on a tree,
:func:`~trainers.data.subsets.nested_subset` of its utterances with the data seed.

A speaker's label is its index in the *sorted* list of speaker ids (:func:`label_map`), never a
``hash``: Python salts ``str`` hashes per process, and a researcher's speaker-classification log
records ``hash(speaker_id) % 2`` splitting two classes 70/30 instead of 50/50.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from trainers.api import DataRequest
from trainers.data.datasets import demo_clip_seconds, demo_corpus_dir
from trainers.data.demo import SPLITS, synthesize_demo_corpus
from trainers.data.manifest import ManifestError, parse_manifest
from trainers.data.subsets import nested_subset

AUDIO_SUFFIXES = (".wav", ".flac")
_TARGET_RMS = 0.1


@dataclass(frozen=True)
class Utterance:
    path: Path
    speaker: str
    transcript: str | None = None


# --- reading utterances --------------------------------------------------------------------------


def demo_utterances(data: DataRequest, split: str, n_utterances: int) -> list[Utterance]:
    """The first ``n_utterances`` single-speaker sources of the demo ``split`` (clip order, ``s1``
    then ``s2``), making or growing the cached corpus as needed."""
    if split not in SPLITS:
        raise ValueError(f"unknown demo split {split!r}; valid: {', '.join(SPLITS)}")
    clips = -(-n_utterances // 2)
    sizes = {"train": max(clips, 1), "valid": data.valid_size}
    if split == "valid":
        sizes["valid"] = max(clips, data.valid_size)
    out_dir = demo_corpus_dir(data)
    synthesize_demo_corpus(
        out_dir,
        sizes["train"],
        seed=data.seed,
        sample_rate=data.sample_rate,
        valid_size=sizes["valid"],
        segment_seconds=demo_clip_seconds(data),
    )
    records = parse_manifest(out_dir / f"{split}.csv")[:clips]
    if any(not record.speakers for record in records):
        raise ManifestError(f"{out_dir / split}.csv has no speaker_1/speaker_2 columns")
    utterances = [
        Utterance(path, speaker, transcript)
        for record in records
        for path, speaker, transcript in zip(
            record.source_paths,
            record.speakers or (),
            record.transcripts or (None, None),
            strict=True,
        )
    ]
    return utterances[:n_utterances]


def tree_utterances(root: str | Path) -> list[Utterance]:
    """Every ``root/speaker/video/utt.wav`` (or ``.flac``), sorted by path; the speaker is the
    first folder. Raises ``ManifestError`` for a missing root, files at the wrong depth or an
    empty tree."""
    root = Path(root)
    if not root.is_dir():
        raise ManifestError(f"speaker tree {root} does not exist or is not a directory")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    misplaced = [str(p.relative_to(root)) for p in files if len(p.relative_to(root).parts) != 3]
    if misplaced:
        raise ManifestError(
            f"{root}: expected speaker/video/utterance{AUDIO_SUFFIXES[0]} (3 levels), but found "
            f"{len(misplaced)} files at another depth, e.g. {misplaced[:5]}"
        )
    if not files:
        raise ManifestError(
            f"{root}: no {'/'.join(AUDIO_SUFFIXES)} files in speaker/video/ folders"
        )
    return [Utterance(p, p.relative_to(root).parts[0]) for p in files]


def nested_indices(n_total: int, size: int, seed: int, source: Path) -> list[int]:
    """:func:`~trainers.data.subsets.nested_subset` of a tree's utterances; a subset larger
    than the tree is a ``ManifestError`` naming the tree."""
    try:
        return nested_subset(n_total, size, seed)
    except ValueError as error:
        raise ManifestError(f"{source}: {error}") from None


# --- labels --------------------------------------------------------------------------------------


def label_map(speakers: Sequence[str]) -> dict[str, int]:
    """Speaker id -> its index among the sorted distinct ids (deterministic in every process)."""
    return {speaker: label for label, speaker in enumerate(sorted(set(speakers)))}


# --- audio ---------------------------------------------------------------------------------------


def read_audio(path: Path, sample_rate: int) -> np.ndarray:
    """Mono int16 samples, trailing digital silence (the demo's zero padding) removed."""
    try:
        audio, rate = sf.read(str(path), dtype="int16", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as error:
        raise ManifestError(f"cannot read audio {path}: {error}") from None
    if rate != sample_rate:
        raise ManifestError(f"{path} is {rate} Hz, but the data request asks for {sample_rate} Hz")
    if audio.shape[1] != 1:
        raise ManifestError(f"{path} has {audio.shape[1]} channels; expected mono")
    audio = audio[:, 0]
    voiced = np.flatnonzero(audio)
    return audio[: voiced[-1] + 1] if len(voiced) else audio


def crop(audio: np.ndarray, start: int, length: int) -> np.ndarray:
    """``length`` samples from ``start``; short utterances repeat (wrap) as voxceleb_trainer does."""
    if len(audio) < length:
        audio = np.pad(audio, (0, length - len(audio)), mode="wrap")
    return audio[start : start + length]


class AudioStore:
    """Decoded utterances (int16, in memory) and a per-utterance gain to a common RMS level,
    so the demo's random mixing levels are not a speaker cue."""

    def __init__(self, utterances: Sequence[Utterance], sample_rate: int) -> None:
        self.audio = [read_audio(u.path, sample_rate) for u in utterances]
        empty = [str(u.path) for u, a in zip(utterances, self.audio, strict=True) if len(a) == 0]
        if empty:
            raise ManifestError(f"{len(empty)} utterances are silent or empty, e.g. {empty[:5]}")
        self.gain = [
            _TARGET_RMS / max(float(np.sqrt(np.mean((a / 32768.0) ** 2))), 1e-4) for a in self.audio
        ]

    def __len__(self) -> int:
        return len(self.audio)

    def piece(self, index: int, start: int, length: int) -> torch.Tensor:
        samples = crop(self.audio[index], start, length).astype(np.float32)
        return torch.from_numpy(samples * (self.gain[index] / 32768.0))

    def random_start(self, index: int, length: int, rng: np.random.Generator) -> int:
        return int(rng.integers(0, max(len(self.audio[index]) - length, 0) + 1))


# --- datasets ------------------------------------------------------------------------------------


class CropSet(Dataset):
    """Training items ``(crop [segment], label)``: a random crop of each utterance whose start is
    a function of ``(seed, epoch, index)``; labels are fixed at construction."""

    def __init__(self, store: AudioStore, labels: Sequence[int], segment: int, seed: int) -> None:
        self.store, self.segment, self.seed, self.epoch = store, segment, seed, 0
        self.labels = torch.tensor(list(labels), dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.store)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def to(self, device: torch.device | str) -> CropSet:
        """Itself: the loop's GPU path would otherwise stack one epoch's crops for good; items
        are cut on the host (fresh every epoch) and the loop moves each batch."""
        return self

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        start = self.store.random_start(index, self.segment, rng)
        return self.store.piece(index, start, self.segment), self.labels[index]


class FixedSet(Dataset):
    """Validation items ``(first `length` samples, target)``: the same in every epoch."""

    def __init__(self, store: AudioStore, targets: Sequence[int], length: int) -> None:
        self.store, self.length = store, length
        self.targets = torch.tensor(list(targets), dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.store.piece(index, 0, self.length), self.targets[index]
