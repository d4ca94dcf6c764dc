"""Transcribed utterances for CTC: the 29-symbol alphabet and the datasets the loop iterates.

The alphabet is DeepSpeech2's (deepspeech.pytorch's ``labels.json``): index 0 is the CTC blank,
then the apostrophe, ``a``-``z`` and the space: 29 output symbols.

Sources: the demo corpus's single-speaker sources with their ``transcript_1``/``transcript_2``
(cut at word boundaries, so every transcript is exactly what is spoken), or CSVs with a
``path,transcript`` header (paths relative to the CSV's folder). Subsets are nested: the demo's
first ``subset_size`` utterances, or ``nested_subset`` of a CSV's rows with the data seed.

Items are fixed-shape so the default collate batches them:
``(audio [max_samples], audio_length, target [max_chars], target_length)``, zero-padded, with
the *real* lengths (with the padded lengths CTC would score the padding as speech) and int64
targets (a researcher's DeepSpeech2 log records int32 targets failing with ``gather(): Expected
dtype int64``).
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from trainers.api import DataRequest
from trainers.data.manifest import ManifestError
from trainers.data.subsets import nested_subset
from trainers.data.utterances import AudioStore, Utterance, demo_utterances

log = logging.getLogger(__name__)

BLANK = 0
ALPHABET = "_'abcdefghijklmnopqrstuvwxyz "  # "_" stands for the blank at index 0
CHAR_TO_INDEX = {c: i for i, c in enumerate(ALPHABET) if i != BLANK}
assert len(ALPHABET) == 29
CSV_COLUMNS = ("path", "transcript")


def normalize(text: str) -> str:
    """Lower case, single spaces, no surrounding space (what the alphabet can spell)."""
    return re.sub(r"\s+", " ", text.lower()).strip()


def encode(text: str) -> list[int]:
    """Indices of ``normalize(text)``; characters outside the alphabet are a ``ValueError``."""
    text = normalize(text)
    unknown = sorted(set(text) - set(CHAR_TO_INDEX))
    if unknown:
        raise ValueError(
            f"characters {unknown} of {text!r} are not in the alphabet {ALPHABET[1:]!r}"
        )
    return [CHAR_TO_INDEX[c] for c in text]


def decode(indices: Sequence[int]) -> str:
    return "".join(ALPHABET[i] for i in indices if i != BLANK)


def greedy_decode(best_path: Sequence[int]) -> str:
    """CTC best-path decoding: merge repeats, then drop blanks."""
    out, previous = [], None
    for symbol in best_path:
        if symbol != previous and symbol != BLANK:
            out.append(symbol)
        previous = symbol
    return decode(out)


def read_transcript_csv(path: str | Path) -> list[Utterance]:
    """Rows of a ``path,transcript`` CSV; one ``ManifestError`` lists every problem (missing
    columns, missing files, empty or unspellable transcripts)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"transcript CSV {path} does not exist")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ManifestError(
                f"{path}: missing columns {missing}; expected a header with {list(CSV_COLUMNS)}, "
                f"got {reader.fieldnames}"
            )
        rows = list(reader)
    utterances, problems = [], []
    for line, row in enumerate(rows, start=2):
        audio = path.parent / row["path"]
        text = normalize(row["transcript"] or "")
        if not audio.is_file():
            problems.append(f"line {line}: {audio} does not exist")
        if not text:
            problems.append(f"line {line}: empty transcript")
        try:
            encode(text)
        except ValueError as error:
            problems.append(f"line {line}: {error}")
        utterances.append(Utterance(audio, "", text))
    if problems:
        raise ManifestError(f"{path}: {len(problems)} problems: " + "; ".join(problems[:10]))
    if not utterances:
        raise ManifestError(f"{path}: no rows")
    return utterances


class TranscribedSet(Dataset):
    """Items ``(audio [max_samples], samples, target [max_chars], chars)``; labels encoded once."""

    def __init__(self, utterances: Sequence[Utterance], sample_rate: int) -> None:
        self.store = AudioStore(utterances, sample_rate)
        self.targets = [
            torch.tensor(encode(u.transcript or ""), dtype=torch.int64) for u in utterances
        ]
        self.lengths = [len(a) for a in self.store.audio]
        self.max_samples = max(self.lengths)
        self.max_chars = max(len(t) for t in self.targets)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        length, target = self.lengths[index], self.targets[index]
        audio = torch.zeros(self.max_samples)
        audio[:length] = self.store.piece(index, 0, length)
        padded = torch.zeros(self.max_chars, dtype=torch.int64)
        padded[: len(target)] = target
        return audio, torch.tensor(length), padded, torch.tensor(len(target))


@dataclass(frozen=True)
class TranscriptData:
    train: TranscribedSet
    valid: TranscribedSet
    description: str


def build_transcript_data(data: DataRequest, subset_size: int) -> TranscriptData:
    """``subset_size`` (nested) training utterances and the validation utterances ``data`` names."""
    if subset_size < 1:
        raise ValueError(f"subset_size must be >= 1, but got {subset_size=}")
    if data.kind == "demo":
        train = demo_utterances(data, "train", subset_size)
        valid = demo_utterances(data, "valid", 2 * data.valid_size)
    elif data.kind == "manifest":
        if not data.train_manifest or not data.valid_manifest:
            raise ValueError(
                "CTC with kind='manifest' needs train_manifest and valid_manifest, both "
                f"'path,transcript' CSVs, but got train_manifest={data.train_manifest!r}, "
                f"valid_manifest={data.valid_manifest!r}"
            )
        pool = read_transcript_csv(data.train_manifest)
        try:
            train = [pool[i] for i in nested_subset(len(pool), subset_size, data.seed)]
        except ValueError as error:
            raise ManifestError(f"{data.train_manifest}: {error}") from None
        valid = read_transcript_csv(data.valid_manifest)[: data.valid_size]
    else:
        raise ValueError(f"DataRequest.kind must be 'demo' or 'manifest', but got {data.kind!r}")
    train_set = TranscribedSet(train, data.sample_rate)
    valid_set = TranscribedSet(valid, data.sample_rate)
    description = (
        f"ctc ({data.kind}): {len(train_set)} training and {len(valid_set)} validation "
        f"utterances at {data.sample_rate} Hz, up to {train_set.max_chars} characters"
    )
    log.info(description)
    return TranscriptData(train_set, valid_set, description)
