"""LibriMix-style manifests: one CSV row per mixture, with paths to the mixture and its sources.

Required columns: ``mixture_ID, mixture_path, source_1_path, source_2_path, length`` (LibriMix's
``metadata/mixture_*_mix_clean.csv``). Optional: ``speaker_1, speaker_2, transcript_1,
transcript_2`` (the demo corpus writes them). Relative paths are relative to the CSV's folder.

Checking (``check_files=True``) reads every file's header and raises one
:class:`ManifestError` listing every problem found: missing files, unreadable audio, a sample
rate other than the requested one, more than one channel, sources whose length differs from
the mixture's. Clips shorter than ``min_seconds`` (the training segment) are skipped with one
warning that counts them (``on_short='skip'``, the default) or are an error
(``on_short='error'``).
"""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import soundfile as sf

REQUIRED_COLUMNS: tuple[str, ...] = (
    "mixture_ID",
    "mixture_path",
    "source_1_path",
    "source_2_path",
    "length",
)
EXTRA_COLUMNS: tuple[str, ...] = ("speaker_1", "speaker_2", "transcript_1", "transcript_2")
_PATH_COLUMNS = ("mixture_path", "source_1_path", "source_2_path")
_MAX_LISTED = 10


class ManifestError(ValueError):
    """A manifest cannot be used as asked; the message names the file, rows and paths."""


class ShortClipWarning(UserWarning):
    """Clips shorter than the training segment were left out."""


@dataclass(frozen=True)
class MixtureRecord:
    """One row: absolute paths, the length in samples, and optional speakers/transcripts."""

    mixture_id: str
    mixture_path: Path
    source_paths: tuple[Path, Path]
    length: int
    line: int  # line number in the CSV (the header is line 1), for error messages
    speakers: tuple[str, str] | None = None
    transcripts: tuple[str, str] | None = None

    @property
    def paths(self) -> tuple[Path, Path, Path]:
        return (self.mixture_path, *self.source_paths)


def read_manifest(
    path: str | Path,
    sample_rate: int | None = None,
    min_seconds: float | None = None,
    on_short: Literal["skip", "error"] = "skip",
    check_files: bool = True,
) -> list[MixtureRecord]:
    """Parse ``path`` and (unless ``check_files=False``) check the audio it points to.

    ``sample_rate`` (when given) must be every file's rate. With ``min_seconds``, clips shorter
    than that are skipped with a :class:`ShortClipWarning` counting them, or raise with
    ``on_short='error'``. When checked, ``length`` is the mixture file's true frame count.
    Raises :class:`ManifestError` (a ``ValueError``) naming the problems.
    """
    records = parse_manifest(path)
    if not check_files:
        return records
    return check_records(records, path, sample_rate, min_seconds, on_short)


def parse_manifest(path: str | Path) -> list[MixtureRecord]:
    """The rows of ``path`` as records, without opening any audio file."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ManifestError(
                f"manifest {path} lacks required column(s) {', '.join(missing)}; "
                f"its columns are: {', '.join(header) or '(none)'}"
            )
        records = [_record(row, line, path.parent) for line, row in enumerate(reader, start=2)]
    if not records:
        raise ManifestError(f"manifest {path} has a header but no rows")
    return records


def _record(row: dict[str, str], line: int, root: Path) -> MixtureRecord:
    paths = [root / row[c] for c in _PATH_COLUMNS]  # an absolute path stays as it is
    try:
        length = int(float(row["length"]))
    except ValueError:
        raise ManifestError(
            f"line {line} ({row['mixture_ID']}): length {row['length']!r} is not a number"
        ) from None
    speakers = transcripts = None
    if all(row.get(c) is not None for c in EXTRA_COLUMNS):
        speakers = (row["speaker_1"], row["speaker_2"])
        transcripts = (row["transcript_1"], row["transcript_2"])
    return MixtureRecord(
        row["mixture_ID"], paths[0], (paths[1], paths[2]), length, line, speakers, transcripts
    )


def check_records(
    records: Sequence[MixtureRecord],
    manifest: str | Path,
    sample_rate: int | None = None,
    min_seconds: float | None = None,
    on_short: Literal["skip", "error"] = "skip",
) -> list[MixtureRecord]:
    """Check the audio of ``records`` (see :func:`read_manifest`); return the usable ones."""
    if on_short not in ("skip", "error"):
        raise ValueError(f"on_short must be 'skip' or 'error', but got {on_short=}")
    problems: list[str] = []
    checked: list[MixtureRecord] = []
    for record in records:
        frames = _inspect(record, sample_rate, problems)
        if frames is not None:
            checked.append(replace(record, length=frames))
    if problems:
        raise ManifestError(
            _listing(f"manifest {manifest} has {len(problems)} problem(s)", problems)
        )
    if min_seconds is None:
        return checked
    return drop_short(checked, manifest, min_seconds, sample_rate, on_short)


def _inspect(record: MixtureRecord, sample_rate: int | None, problems: list[str]) -> int | None:
    """The mixture's frame count, or None after appending what is wrong to ``problems``."""
    where = f"line {record.line} ({record.mixture_id})"
    found_before = len(problems)
    infos = []
    for column, file in zip(_PATH_COLUMNS, record.paths, strict=True):
        if not file.is_file():
            problems.append(f"{where}: {column} file not found: {file}")
            continue
        try:
            info = sf.info(str(file))
        except (sf.LibsndfileError, RuntimeError) as error:
            problems.append(f"{where}: cannot read {column} {file} as audio ({error})")
            continue
        infos.append(info)
        if sample_rate is not None and info.samplerate != sample_rate:
            problems.append(
                f"{where}: {file} is at {info.samplerate} Hz, but {sample_rate} Hz was requested"
            )
        if info.channels != 1:
            problems.append(f"{where}: {file} has {info.channels} channels; expected mono")
    if len(problems) == found_before and len({i.frames for i in infos}) > 1:
        problems.append(
            f"{where}: mixture and sources differ in length ({[i.frames for i in infos]} samples)"
        )
    return infos[0].frames if len(problems) == found_before else None


def drop_short(
    records: list[MixtureRecord],
    manifest: str | Path,
    min_seconds: float,
    sample_rate: int | None = None,
    on_short: Literal["skip", "error"] = "skip",
) -> list[MixtureRecord]:
    """``records`` without those whose ``length`` is under ``min_seconds``: skipped with one
    :class:`ShortClipWarning` that counts and names them, or a :class:`ManifestError`.

    ``sample_rate`` converts seconds to samples (default: the first mixture file's rate).
    """
    if not records:
        return records
    rate = sample_rate or sf.info(str(records[0].mixture_path)).samplerate
    need = round(min_seconds * rate)
    short = [r for r in records if r.length < need]
    if not short:
        return records
    lines = [f"line {r.line} ({r.mixture_id}): {r.length} samples" for r in short]
    head = (
        f"manifest {manifest}: {len(short)} of {len(records)} clip(s) are shorter than the "
        f"{min_seconds} s segment ({need} samples at {rate} Hz)"
    )
    if on_short == "error":
        raise ManifestError(_listing(head + "; pass on_short='skip' to leave them out", lines))
    warnings.warn(_listing(head + "; skipped them", lines), ShortClipWarning, stacklevel=3)
    return [r for r in records if r.length >= need]


def _listing(head: str, lines: list[str]) -> str:
    shown = "\n  ".join(lines[:_MAX_LISTED])
    more = f"\n  ... and {len(lines) - _MAX_LISTED} more" if len(lines) > _MAX_LISTED else ""
    return f"{head}:\n  {shown}{more}"


def read_csv_rows(path: Path) -> list[list[str]]:
    """The data rows of a CSV written by :func:`write_csv_rows`, as strings, header dropped."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[1:]


def write_csv_rows(path: Path, rows: Sequence[Sequence[str]]) -> None:
    """Write a manifest with the required and extra columns, atomically (write, then rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*REQUIRED_COLUMNS, *EXTRA_COLUMNS])
        writer.writerows(rows)
    os.replace(tmp, path)
