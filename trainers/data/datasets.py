"""Separation datasets for the training loop: nested subsets, decoded once, cropped per epoch.

Audio is decoded once into memory as int16 (half the bytes of float32; a 16K subset of 3 s
clips at 8 kHz is ~1.2 GB) and converted per item, so epochs never reread files.

* Training items are random fixed-length crops. The crop start comes from a generator seeded
  by ``(seed, epoch, index)``: the same seed and epoch give the same crops, in any order, in
  any DataLoader worker. Call ``set_epoch`` before each epoch.
* Validation items are fixed: the centred crop of ``segment`` samples of each clip, the same
  for every subset size, trial seed and epoch.
* The training subset is ``nested_subset`` drawn with the *data* seed (``DataRequest.seed``),
  never the trial seed, so every trial of a stage trains on the same clips and every stage's
  clips contain the previous stage's.
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
from trainers.data.demo import default_cache_dir, synthesize_demo_corpus
from trainers.data.manifest import (
    ManifestError,
    MixtureRecord,
    check_records,
    drop_short,
    parse_manifest,
)
from trainers.data.subsets import nested_subset

_SCALE = 1.0 / 32768.0
# Demo clips are longer than the training segment so that random crops vary.
_DEMO_MIN_CLIP_SECONDS = 3.0
_DEMO_CLIP_FACTOR = 1.5

Item = tuple[torch.Tensor, torch.Tensor]


class _Clips(Dataset):
    """Int16 clips ``[3, T_i]`` (mixture, source 1, source 2) and a crop length ``segment``."""

    def __init__(self, clips: Sequence[torch.Tensor], segment: int) -> None:
        short = [i for i, clip in enumerate(clips) if clip.shape[-1] < segment]
        if short:
            raise ValueError(f"clips {short[:10]} are shorter than the {segment}-sample segment")
        self.clips = list(clips)
        self.segment = segment

    def __len__(self) -> int:
        return len(self.clips)

    def _crop(self, index: int, start: int) -> Item:
        piece = self.clips[index][:, start : start + self.segment].float() * _SCALE
        return piece[0], piece[1:]

    def _moved(self, device: torch.device | str) -> list[torch.Tensor]:
        return [clip.to(device) for clip in self.clips]


class SeparationTrainSet(_Clips):
    """Random crops: item ``i`` is ``(mixture [segment], sources [2, segment])`` float32."""

    def __init__(self, clips: Sequence[torch.Tensor], segment: int, seed: int) -> None:
        super().__init__(clips, segment)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Crops of epoch ``epoch`` (any int; the loop passes its epoch number)."""
        self.epoch = epoch

    def crop_start(self, index: int) -> int:
        """Where item ``index`` starts this epoch: a function of (seed, epoch, index) only."""
        room = self.clips[index].shape[-1] - self.segment
        rng = np.random.default_rng([self.seed, self.epoch, index])
        return int(rng.integers(0, room + 1))

    def __getitem__(self, index: int) -> Item:
        return self._crop(index, self.crop_start(index))

    def to(self, device: torch.device | str) -> SeparationTrainSet:
        moved = SeparationTrainSet(self._moved(device), self.segment, self.seed)
        moved.epoch = self.epoch
        return moved


class SeparationValidSet(_Clips):
    """Fixed items: the centred ``segment``-long crop of each clip."""

    def __getitem__(self, index: int) -> Item:
        room = self.clips[index].shape[-1] - self.segment
        return self._crop(index, room // 2)

    def to(self, device: torch.device | str) -> SeparationValidSet:
        return SeparationValidSet(self._moved(device), self.segment)


@dataclass(frozen=True)
class SeparationData:
    """What a separation trial trains and validates on."""

    train: SeparationTrainSet
    valid: SeparationValidSet
    sample_rate: int
    description: str

    def set_epoch(self, epoch: int) -> None:
        """Shorthand for ``train.set_epoch``."""
        self.train.set_epoch(epoch)

    def to_device(self, device: torch.device | str) -> SeparationData:
        """The same data with every clip already on ``device`` (for small subsets on CUDA:
        items are then sliced on the device, without host-to-device copies per batch)."""
        return SeparationData(
            self.train.to(device), self.valid.to(device), self.sample_rate, self.description
        )


def build_separation_data(data: DataRequest, subset_size: int, seed: int) -> SeparationData:
    """The training subset of ``subset_size`` clips and the validation set that ``data`` names.

    ``seed`` seeds the crop positions (the trial's seed); which clips form the subset depends
    only on ``data.seed``. For ``kind='demo'`` the corpus under ``data.cache_dir`` (default
    :func:`~trainers.data.demo.default_cache_dir`) is made or grown to ``subset_size`` training
    clips first. Raises ``ValueError`` (``ManifestError`` for manifest problems) when the
    request cannot be met.
    """
    if subset_size < 1:
        raise ValueError(f"subset_size must be >= 1, but got {subset_size=}")
    segment = round(data.segment_seconds * data.sample_rate)
    if data.kind == "demo":
        train_csv, valid_csv, train_records = _demo_records(data, subset_size)
    elif data.kind == "manifest":
        train_csv, valid_csv = _manifest_paths(data)
        records = _long_enough(train_csv, data)
        train_records = [
            records[i] for i in _manifest_subset(records, subset_size, data, train_csv)
        ]
    else:
        raise ValueError(f"DataRequest.kind must be 'demo' or 'manifest', but got {data.kind!r}")
    valid_records = _long_enough(valid_csv, data)[: data.valid_size]
    train = _load(train_records, train_csv, data)
    valid = _load(valid_records, valid_csv, data)
    description = (
        f"{data.kind} data: {len(train)} training clips of {train_csv} (data seed {data.seed}), "
        f"{len(valid)} validation clips of {valid_csv}, {data.segment_seconds} s segments "
        f"at {data.sample_rate} Hz"
    )
    return SeparationData(
        SeparationTrainSet(train, segment, seed),
        SeparationValidSet(valid, segment),
        data.sample_rate,
        description,
    )


def demo_corpus_dir(data: DataRequest) -> Path:
    """Where the demo corpus for ``data`` lives: one folder per (seed, rate, clip length), so
    sweeps with other data parameters never collide in the shared cache."""
    root = Path(data.cache_dir) if data.cache_dir else default_cache_dir()
    return root / f"seed{data.seed}-{data.sample_rate}hz-{demo_clip_seconds(data):g}s"


def demo_clip_seconds(data: DataRequest) -> float:
    """How long the demo clips for ``data`` are: longer than a segment, so random crops vary."""
    return max(_DEMO_MIN_CLIP_SECONDS, round(_DEMO_CLIP_FACTOR * data.segment_seconds, 2))


def _demo_records(data: DataRequest, subset_size: int) -> tuple[Path, Path, list[MixtureRecord]]:
    """Demo clips are independent draws, so the first N clips already are a random sample;
    taking them (not a permutation of the current corpus size) keeps a subset the same clips
    however far another sweep has grown the shared corpus."""
    out_dir = demo_corpus_dir(data)
    train_csv = synthesize_demo_corpus(
        out_dir,
        subset_size,
        seed=data.seed,
        sample_rate=data.sample_rate,
        valid_size=data.valid_size,
        segment_seconds=demo_clip_seconds(data),
    )
    return train_csv, out_dir / "valid.csv", parse_manifest(train_csv)[:subset_size]


def _manifest_paths(data: DataRequest) -> tuple[Path, Path]:
    if not data.train_manifest or not data.valid_manifest:
        raise ValueError(
            "DataRequest(kind='manifest') needs train_manifest and valid_manifest, but got "
            f"train_manifest={data.train_manifest!r}, valid_manifest={data.valid_manifest!r}"
        )
    return Path(data.train_manifest), Path(data.valid_manifest)


def _long_enough(path: Path, data: DataRequest) -> list[MixtureRecord]:
    """The rows whose ``length`` column admits a segment; the others are skipped with a
    counted ``ShortClipWarning`` (as Asteroid's LibriMix loader does). Filtering before the
    subset is drawn keeps subsets nested and at their full size, without opening any file."""
    return drop_short(parse_manifest(path), path, data.segment_seconds, data.sample_rate)


def _manifest_subset(
    records: list[MixtureRecord], subset_size: int, data: DataRequest, path: Path
) -> list[int]:
    try:
        return nested_subset(len(records), subset_size, data.seed)
    except ValueError as error:
        raise ManifestError(f"{path}: {error}") from None


def _load(records: list[MixtureRecord], manifest: Path, data: DataRequest) -> list[torch.Tensor]:
    """Check (existence, rate, true length >= segment: a file shorter than its ``length`` column
    claims is an error) and decode ``records``."""
    usable = check_records(
        records, manifest, data.sample_rate, min_seconds=data.segment_seconds, on_short="error"
    )
    return [_decode(record) for record in usable]


def _decode(record: MixtureRecord) -> torch.Tensor:
    channels = [sf.read(str(path), dtype="int16", always_2d=False)[0] for path in record.paths]
    return torch.from_numpy(np.stack(channels))
