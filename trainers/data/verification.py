"""Speaker verification data: training utterances grouped by speaker, validation trials.

Demo: train on the demo's train split and validate on trial pairs drawn from its valid split,
whose speakers the training split never has. Manifest: a VoxCeleb-style tree
``root/speaker/video/utt.wav`` to train on and a trial list of ``label path1 path2`` lines
(:func:`read_trials`, paths relative to the list's folder) to validate on.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainers.api import DataRequest
from trainers.data.manifest import ManifestError
from trainers.data.subsets import nested_subset
from trainers.data.utterances import (
    AudioStore,
    CropSet,
    FixedSet,
    Utterance,
    demo_utterances,
    label_map,
    nested_indices,
    tree_utterances,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trial:
    label: int  # 1: same speaker, 0: different speakers
    first: int  # indices into the validation utterances
    second: int


def read_trials(path: str | Path) -> tuple[list[Utterance], list[Trial]]:
    """A VoxCeleb trial list (``label path1 path2``, label 1 = same speaker, 0 = different).
    Relative paths are relative to the list's folder; the speaker is each path's first folder.
    Returns the distinct utterances (in first-seen order) and the trials indexing them."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"trial list {path} does not exist")
    index: dict[str, int] = {}
    utterances: list[Utterance] = []
    trials: list[Trial] = []
    problems: list[str] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 3 or fields[0] not in ("0", "1"):
            problems.append(
                f"line {number}: expected 'label path1 path2' with label 0 or 1: {line!r}"
            )
            continue
        ids = []
        for name in fields[1:]:
            if name not in index:
                index[name] = len(utterances)
                utterances.append(Utterance(path.parent / name, Path(name).parts[0]))
            ids.append(index[name])
        trials.append(Trial(int(fields[0]), ids[0], ids[1]))
    missing = [str(u.path) for u in utterances if not u.path.is_file()]
    if missing:
        problems.append(f"{len(missing)} audio files do not exist, e.g. {missing[:5]}")
    if problems:
        raise ManifestError(f"{path}: " + "; ".join(problems[:10]))
    if not trials:
        raise ManifestError(f"{path}: the trial list is empty")
    return utterances, trials


def build_trials(speakers: Sequence[str], max_pairs: int, seed: int) -> list[Trial]:
    """Deterministic trial pairs over utterances with ``speakers``: up to ``max_pairs // 2``
    same-speaker pairs and different-speaker pairs filling the rest, each drawn without
    replacement with ``seed`` and sorted."""
    if max_pairs < 2:
        raise ValueError(f"max_test_pairs must be >= 2, but got {max_pairs=}")
    ids = np.array([label_map(speakers)[s] for s in speakers])
    first, second = np.triu_indices(len(ids), k=1)
    same = ids[first] == ids[second]
    if not same.any() or same.all():
        raise ValueError(
            f"cannot build verification trials from {len(ids)} utterances of "
            f"{len(set(speakers))} speakers: need a speaker with 2+ utterances and 2+ speakers"
        )
    rng = np.random.default_rng([seed, 2])
    n_pos = min(int(same.sum()), max_pairs // 2)
    n_neg = min(int((~same).sum()), max_pairs - n_pos)
    pos = np.sort(rng.choice(np.flatnonzero(same), n_pos, replace=False))
    neg = np.sort(rng.choice(np.flatnonzero(~same), n_neg, replace=False))
    picks = [(1, k) for k in pos] + [(0, k) for k in neg]
    return [Trial(label, int(first[k]), int(second[k])) for label, k in picks]


class SpeakerGroupSet(CropSet):
    """Verification training items ``(crops [n, segment], label)``: utterance ``index`` and
    ``n - 1`` other utterances of the same speaker (drawn per epoch; the speaker's own
    utterances repeat, with other crops, when it has fewer than ``n``)."""

    def __init__(
        self, store: AudioStore, labels: Sequence[int], segment: int, seed: int, n: int
    ) -> None:
        super().__init__(store, labels, segment, seed)
        if n < 1:
            raise ValueError(f"n_per_speaker must be >= 1, but got {n=}")
        self.n = n
        by_label: dict[int, list[int]] = defaultdict(list)
        for i, label in enumerate(self.labels.tolist()):
            by_label[label].append(i)
        self.by_label = dict(by_label)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        label = int(self.labels[index])
        others = [i for i in self.by_label[label] if i != index]
        if len(others) >= self.n - 1:
            picks = list(rng.choice(others, self.n - 1, replace=False)) if others else []
        else:
            picks = list(rng.choice(self.by_label[label], self.n - 1, replace=True))
        crops = [
            self.store.piece(i, self.store.random_start(i, self.segment, rng), self.segment)
            for i in [index, *picks]
        ]
        return torch.stack(crops), self.labels[index]


@dataclass(frozen=True)
class VerificationData:
    train: SpeakerGroupSet
    valid: FixedSet  # items (utterance, its index): trials index the validation utterances
    trials: list[Trial]
    n_speakers: int  # training speakers (classes of an AAM-softmax head)
    description: str


def build_verification_data(
    data: DataRequest, subset_size: int, seed: int, n_per_speaker: int, max_test_pairs: int
) -> VerificationData:
    """Training utterances of ``subset_size`` (nested) and validation trials on other speakers.

    Demo: train on the demo's train split, validate on trials built by :func:`build_trials` from
    ``2 * valid_size`` utterances of the valid split (disjoint speakers). Manifest:
    ``train_manifest`` is a VoxCeleb-style tree, ``valid_manifest`` a trial list (at most
    ``max_test_pairs`` of its trials are kept, a seeded sample).
    """
    train_utts, valid_utts, trials = _verification_sources(data, subset_size, max_test_pairs)
    speakers = label_map([u.speaker for u in train_utts])
    overlap = set(speakers) & {u.speaker for u in valid_utts}
    if overlap:
        raise ManifestError(
            f"verification needs disjoint train and validation speakers, but {len(overlap)} "
            f"speakers are in both, e.g. {sorted(overlap)[:5]}"
        )
    segment = round(data.segment_seconds * data.sample_rate)
    train = SpeakerGroupSet(
        AudioStore(train_utts, data.sample_rate),
        [speakers[u.speaker] for u in train_utts],
        segment,
        seed,
        n_per_speaker,
    )
    valid = FixedSet(AudioStore(valid_utts, data.sample_rate), range(len(valid_utts)), 2 * segment)
    description = (
        f"verification ({data.kind}): {len(train_utts)} training utterances of {len(speakers)} "
        f"speakers, {len(trials)} trials ({sum(t.label for t in trials)} same-speaker) over "
        f"{len(valid_utts)} validation utterances of {len({u.speaker for u in valid_utts})} "
        "other speakers"
    )
    log.info(description)
    return VerificationData(train, valid, trials, len(speakers), description)


def _verification_sources(
    data: DataRequest, subset_size: int, max_test_pairs: int
) -> tuple[list[Utterance], list[Utterance], list[Trial]]:
    if data.kind == "demo":
        train = demo_utterances(data, "train", subset_size)
        valid = demo_utterances(data, "valid", 2 * data.valid_size)
        return train, valid, build_trials([u.speaker for u in valid], max_test_pairs, data.seed)
    train_root, trial_list = _manifest_pair(data)
    pool = tree_utterances(train_root)
    train = [pool[i] for i in nested_indices(len(pool), subset_size, data.seed, train_root)]
    valid, trials = read_trials(trial_list)
    if len(trials) > max_test_pairs:
        trials = [trials[i] for i in sorted(nested_subset(len(trials), max_test_pairs, data.seed))]
    return train, valid, trials


def _manifest_pair(data: DataRequest) -> tuple[Path, Path]:
    if data.kind != "manifest":
        raise ValueError(f"DataRequest.kind must be 'demo' or 'manifest', but got {data.kind!r}")
    if not data.train_manifest or not data.valid_manifest:
        raise ValueError(
            "speaker verification with kind='manifest' needs train_manifest (a speaker/video/"
            "utt.wav tree) and valid_manifest (a 'label path1 path2' trial list), but got "
            f"train_manifest={data.train_manifest!r}, valid_manifest={data.valid_manifest!r}"
        )
    return Path(data.train_manifest), Path(data.valid_manifest)
