"""Helpers for the speaker-data tests: VoxCeleb-style trees of pure tones, one pitch per speaker."""

from pathlib import Path

import numpy as np
import soundfile as sf

from trainers.api import DataRequest

RATE = 8000
SPEAKERS = ("id_b", "id_a", "id_c")  # deliberately unsorted


def write_tone(path: Path, freq: float, seconds: float = 0.5) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * RATE)) / RATE
    sf.write(path, 0.3 * np.sin(2 * np.pi * freq * t), RATE, subtype="PCM_16")


def make_tree(root: Path, speakers=SPEAKERS, per_speaker: int = 8) -> Path:
    for s, speaker in enumerate(speakers):
        for u in range(per_speaker):
            write_tone(root / speaker / f"vid{u % 2}" / f"{u:05d}.wav", 200 + 100 * s + 5 * u)
    return root


def manifest_request(tree: Path, cache: Path, valid: str | None = None) -> DataRequest:
    return DataRequest(
        kind="manifest",
        train_manifest=str(tree),
        valid_manifest=valid,
        sample_rate=RATE,
        segment_seconds=0.25,
        cache_dir=str(cache),
    )
