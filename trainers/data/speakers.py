"""Speaker-labelled utterances: verification and classification datasets, trial lists.

Sources of utterances (``Utterance``: a path, a speaker id, maybe a transcript):

* the demo corpus: each mixture's single-speaker sources ``s1``/``s2`` with its ``speaker_1``/
  ``speaker_2`` columns (:func:`demo_utterances`); the demo's train and valid splits share no
  speaker, so verification validates on unseen speakers for free;
* a VoxCeleb-style tree ``root/speaker/video/utt.wav`` (:func:`tree_utterances`) and a trial
  list of ``label path1 path2`` lines (:func:`read_trials`), paths relative to the list's folder.

Subsets follow the nested rule: on the demo, the first ``subset_size`` utterances (its clips are
independent draws, so a prefix is already a random sample and stays the same however far the
shared corpus grows, as in :mod:`trainers.data.datasets`); on a tree,
:func:`~trainers.data.subsets.nested_subset` of its utterances with the data seed.

Labels (seed 001's two bugs): a speaker's label is its index in the *sorted* list of speaker ids
(no ``hash``, which is salted per process and unbalanced), computed once when the dataset is
built - never in ``__getitem__`` or per epoch - and saved as JSON with the data; a later build
that would assign different labels is an error, not a silent re-draw.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from trainers.api import DataRequest
from trainers.data.demo import SPLITS, synthesize_demo_corpus
from trainers.data.manifest import ManifestError, parse_manifest
from trainers.data.subsets import nested_subset

log = logging.getLogger(__name__)

HOLDOUT_EVERY = 4  # classification: every 4th utterance of a speaker is held out for validation
AUDIO_SUFFIXES = (".wav", ".flac")
_TARGET_RMS = 0.1


@dataclass(frozen=True)
class Utterance:
    path: Path
    speaker: str
    transcript: str | None = None


@dataclass(frozen=True)
class Trial:
    label: int  # 1: same speaker, 0: different speakers
    first: int  # indices into the validation utterances
    second: int


# --- reading utterances --------------------------------------------------------------------------


def demo_utterances(data: DataRequest, split: str, n_utterances: int) -> list[Utterance]:
    """The first ``n_utterances`` single-speaker sources of the demo ``split`` (clip order, ``s1``
    then ``s2``), making or growing the cached corpus as needed."""
    if split not in SPLITS:
        raise ValueError(f"unknown demo split {split!r}; valid: {', '.join(SPLITS)}")
    from trainers.data.datasets import _demo_clip_seconds, demo_corpus_dir

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
        segment_seconds=_demo_clip_seconds(data),
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


# --- labels and trials ---------------------------------------------------------------------------


def label_map(speakers: Sequence[str]) -> dict[str, int]:
    """Speaker id -> its index among the sorted distinct ids (deterministic in every process)."""
    return {speaker: label for label, speaker in enumerate(sorted(set(speakers)))}


def save_label_map(path: Path, labels: dict[str, int]) -> None:
    """Write ``labels`` to ``path``; if a map is already there it must be the same one."""
    if path.exists():
        saved = json.loads(path.read_text())
        if saved != labels:
            raise ValueError(
                f"{path} holds a different speaker label map ({len(saved)} speakers) than the one "
                f"built now ({len(labels)}): the data changed under the same name; delete it to "
                "relabel deliberately"
            )
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(labels, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


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


# --- verification --------------------------------------------------------------------------------


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
    train = [pool[i] for i in _nested(len(pool), subset_size, data.seed, train_root)]
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


def _nested(n_total: int, size: int, seed: int, source: Path) -> list[int]:
    try:
        return nested_subset(n_total, size, seed)
    except ValueError as error:
        raise ManifestError(f"{source}: {error}") from None


# --- classification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassificationData:
    train: CropSet
    valid: FixedSet
    labels: dict[str, int]  # speaker id -> class, sorted ids
    class_counts: dict[str, int]  # training utterances per speaker
    label_file: Path
    description: str


def build_classification_data(
    data: DataRequest, subset_size: int, seed: int, label_dir: Path | None = None
) -> ClassificationData:
    """Same speakers, held-out utterances: every ``HOLDOUT_EVERY``-th utterance of a speaker (in
    source order) is validation, the others train; only speakers with a held-out utterance are
    classes. Demo: the pool is the first ``subset_size`` utterances of the train split. Tree
    (``train_manifest``): the hold-out is fixed over the whole tree and the training utterances
    are a nested subset of ``subset_size`` of the rest. The label map is saved as
    ``label_dir/speaker-labels-*.json`` (default: the demo corpus folder or the cache folder)."""
    train_utts, valid_utts, source = _classification_sources(data, subset_size)
    labels = label_map([u.speaker for u in valid_utts])
    label_file = (label_dir or _label_dir(data)) / f"speaker-labels-{source}.json"
    save_label_map(label_file, labels)
    counts = Counter(u.speaker for u in train_utts)
    segment = round(data.segment_seconds * data.sample_rate)
    train = CropSet(
        AudioStore(train_utts, data.sample_rate),
        [labels[u.speaker] for u in train_utts],
        segment,
        seed,
    )
    valid_labels = [labels[u.speaker] for u in valid_utts]
    valid = FixedSet(AudioStore(valid_utts, data.sample_rate), valid_labels, segment)
    description = (
        f"classification ({data.kind}): {len(labels)} speakers (labels: sorted ids, {label_file}), "
        f"{len(train_utts)} training / {len(valid_utts)} held-out utterances; {balance(counts)}"
    )
    log.info(description)
    return ClassificationData(
        train, valid, labels, dict(sorted(counts.items())), label_file, description
    )


def balance(counts: Counter[str]) -> str:
    """The class balance in one line (seed 001 lost 30 hours to an unreported 70/30 split)."""
    values = np.array(sorted(counts.values()))
    if len(values) == 0:
        return "class balance: no training utterances"
    return (
        f"class balance: {values.min()}..{values.max()} utterances per class (median "
        f"{np.median(values):g}), largest class {values.max() / values.sum():.1%} of the data"
    )


def split_holdout(pool: Sequence[Utterance]) -> tuple[list[Utterance], list[Utterance]]:
    """(train, held-out): a speaker's k-th utterance is held out when ``k % HOLDOUT_EVERY ==
    HOLDOUT_EVERY - 1``; speakers with no held-out utterance are dropped from both."""
    seen: Counter[str] = Counter()
    train: list[Utterance] = []
    held: list[Utterance] = []
    for utt in pool:
        (held if seen[utt.speaker] % HOLDOUT_EVERY == HOLDOUT_EVERY - 1 else train).append(utt)
        seen[utt.speaker] += 1
    classes = {u.speaker for u in held}
    return [u for u in train if u.speaker in classes], held


def _classification_sources(
    data: DataRequest, subset_size: int
) -> tuple[list[Utterance], list[Utterance], str]:
    if data.kind == "demo":
        train, held = split_holdout(demo_utterances(data, "train", subset_size))
        source = f"demo-{subset_size}"
    elif data.kind == "manifest":
        if not data.train_manifest or data.valid_manifest:
            raise ValueError(
                "speaker classification with kind='manifest' needs train_manifest (a speaker/"
                "video/utt.wav tree) and no valid_manifest: validation holds out every "
                f"{HOLDOUT_EVERY}th utterance of each speaker; got "
                f"train_manifest={data.train_manifest!r}, valid_manifest={data.valid_manifest!r}"
            )
        root = Path(data.train_manifest)
        pool, held = split_holdout(tree_utterances(root))
        train = [pool[i] for i in _nested(len(pool), subset_size, data.seed, root)]
        source = f"tree-{abs(hash_path(root))}"
    else:
        raise ValueError(f"DataRequest.kind must be 'demo' or 'manifest', but got {data.kind!r}")
    if not held:
        raise ValueError(
            f"no speaker has {HOLDOUT_EVERY}+ utterances among the {subset_size} drawn: nothing "
            "to validate on; use a larger subset"
        )
    return train, held, source


def hash_path(path: Path) -> int:
    """A stable (unsalted) short hash of a resolved path, for file names."""
    import zlib

    return zlib.crc32(str(path.resolve()).encode())


def _label_dir(data: DataRequest) -> Path:
    from trainers.data.datasets import demo_corpus_dir
    from trainers.data.demo import default_cache_dir

    if data.kind == "demo":
        return demo_corpus_dir(data)
    return Path(data.cache_dir) if data.cache_dir else default_cache_dir().parent / "labels"
