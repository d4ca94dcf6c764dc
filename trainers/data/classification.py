"""Speaker classification data: the same speakers in training and validation, held-out
utterances to validate on, and labels fixed once and saved with the data.

Labels are computed once, when the dataset is built - never in ``__getitem__`` or per epoch -
and saved as JSON; a later build that would assign different labels is an error, not a silent
re-draw. (A researcher's speaker-classification log records a streaming dataset that rebuilt its
label map in ``__iter__`` every epoch, so the labels flipped and the model stopped learning.)
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainers.api import DataRequest
from trainers.data.datasets import demo_corpus_dir
from trainers.data.demo import default_cache_dir
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

HOLDOUT_EVERY = 4  # every 4th utterance of a speaker is held out for validation


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
    """The class balance in one line (a researcher's
    speaker-classification log records 30 hours lost to an unreported 70/30 class split)."""
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
        train = [pool[i] for i in nested_indices(len(pool), subset_size, data.seed, root)]
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
    return zlib.crc32(str(path.resolve()).encode())


def _label_dir(data: DataRequest) -> Path:
    if data.kind == "demo":
        return demo_corpus_dir(data)
    return Path(data.cache_dir) if data.cache_dir else default_cache_dir().parent / "labels"
