"""Utterances shared by the speaker and CTC data: VoxCeleb-style trees and sorted speaker labels."""

from pathlib import Path

import pytest

from tests.trainers.data._speaker_trees import make_tree, write_tone
from trainers.data.manifest import ManifestError
from trainers.data.utterances import label_map, tree_utterances


def test_tree_utterances_are_sorted_with_speaker_from_the_first_folder(tmp_path: Path) -> None:
    utts = tree_utterances(make_tree(tmp_path / "tree", per_speaker=2))
    assert [u.speaker for u in utts] == ["id_a", "id_a", "id_b", "id_b", "id_c", "id_c"]
    assert utts == sorted(utts, key=lambda u: u.path)


def test_tree_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="does not exist"):
        tree_utterances(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ManifestError, match="no .wav/.flac files"):
        tree_utterances(tmp_path / "empty")
    write_tone(tmp_path / "flat" / "spk" / "utt.wav", 300)
    with pytest.raises(ManifestError, match="3 levels"):
        tree_utterances(tmp_path / "flat")


def test_label_map_is_sorted_not_hashed() -> None:
    assert label_map(["id_b", "id_a", "id_c", "id_a"]) == {"id_a": 0, "id_b": 1, "id_c": 2}
