"""The ctypes binding to espeak-ng: real speech, distinct voices, repeatable, word marks."""

from __future__ import annotations

import numpy as np
import pytest

from trainers.data.espeak import ENGLISH_VOICES, Voice, list_variants, synthesize

TEXT = "the quick brown fox jumps over the lazy dog"


def _rms(wave: np.ndarray) -> float:
    return float(np.sqrt(np.mean(wave.astype(np.float64) ** 2)))


def test_two_voices_speak_plausible_and_different_audio() -> None:
    a = synthesize(TEXT, Voice("en-us", "f3", 70, 175))
    b = synthesize(TEXT, Voice("en-gb-x-rp", "m1", 30, 150))
    for utterance in (a, b):
        assert utterance.sample_rate == 22050
        assert utterance.wave.dtype == np.float32
        seconds = len(utterance.wave) / utterance.sample_rate
        assert 1.5 < seconds < 6.0, seconds  # nine words at 150-175 words per minute
        assert _rms(utterance.wave) > 0.01
        assert np.abs(utterance.wave).max() <= 1.0
    n = min(len(a.wave), len(b.wave))
    assert _rms(a.wave[:n] - b.wave[:n]) > 0.5 * min(_rms(a.wave), _rms(b.wave))


def test_same_text_and_voice_give_identical_samples_even_after_other_speech() -> None:
    voice = Voice("en-us", "", 50, 175)
    first = synthesize(TEXT, voice)
    synthesize("something else entirely", Voice("en", "klatt", 20, 300))
    again = synthesize(TEXT, voice)
    assert np.array_equal(first.wave, again.wave)


def test_rate_changes_duration() -> None:
    slow = synthesize(TEXT, Voice("en-us", "", 50, 120))
    fast = synthesize(TEXT, Voice("en-us", "", 50, 300))
    assert len(fast.wave) < 0.7 * len(slow.wave)


def test_word_marks_follow_the_text_in_order() -> None:
    utterance = synthesize(TEXT, Voice("en-us", "m3", 50, 175))
    words = [word for word, _ in utterance.words]
    starts = [start for _, start in utterance.words]
    assert words == TEXT.split()
    assert starts == sorted(starts) and starts[0] >= 0
    assert starts[-1] < len(utterance.wave)


def test_variants_and_accents_are_available() -> None:
    variants = list_variants()
    assert len(variants) >= 90 and "f3" in variants and all(" " not in v for v in variants)
    assert len(ENGLISH_VOICES) * (len(variants) + 1) >= 200


@pytest.mark.parametrize(
    ("voice", "message"),
    [
        (Voice("en-us", "no-such-variant", 50, 175), "unknown espeak-ng variant 'no-such-variant'"),
        (Voice("xx-nowhere", "", 50, 175), "does not know the voice 'xx-nowhere'"),
        (Voice("en-us", "", 120, 175), "pitch must be within 0..99"),
        (Voice("en-us", "", 50, 5), "rate must be within 80..450"),
    ],
)
def test_bad_voices_raise_named_errors(voice: Voice, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        synthesize(TEXT, voice)
