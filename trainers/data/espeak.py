"""A minimal ctypes binding to the libespeak-ng shipped in the ``espeakng-loader`` wheel.

Only what the demo corpus needs: list the voice variants, and synthesise a text with a voice,
variant, pitch and rate into a float32 waveform in memory (no files, no audio device, no system
espeak-ng binary).

Determinism: espeak-ng keeps static wave-generator state (pitch-flutter and wave phase, among
others) that carries over from one utterance to the next and survives ``espeak_Terminate``, so
the same text spoken twice in one process gives different samples and even different lengths.
:func:`synthesize` therefore loads a fresh copy of the library for every utterance (dlopen,
initialise, speak, terminate, dlclose: about 5 ms), which makes an utterance a pure function of
``(text, voice)``, whatever was spoken before and in whichever process.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import espeakng_loader
import numpy as np

# Constants from espeak-ng's speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # report errors instead of calling exit()
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
_EE_OK = 0
_RAND_SEED = 1
# Several variants clip at espeak-ng's default volume (100); 50 keeps most peaks below full scale.
_VOLUME = 50

ENGLISH_VOICES: tuple[str, ...] = (
    "en-us",
    "en",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-029",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
)
"""English accents (base voices) that read the demo's English sentences sensibly."""

_CALLBACK_TYPE = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: a base voice, a variant (``''`` for none), pitch 0-99, rate in wpm."""

    base: str
    variant: str
    pitch: int
    rate: int

    @property
    def name(self) -> str:
        """The name ``espeak_SetVoiceByName`` understands, e.g. ``en-us+f3``."""
        return f"{self.base}+{self.variant}" if self.variant else self.base

    @property
    def speaker_id(self) -> str:
        """A stable, filesystem- and CSV-safe speaker label."""
        return f"{self.base}+{self.variant or 'default'}+p{self.pitch}+r{self.rate}"


@cache
def list_variants() -> tuple[str, ...]:
    """Names of the voice variants (``voices/!v``) usable as ``Voice.variant``, sorted.

    Names with spaces are left out: ``base+variant`` cannot express them.
    """
    folder = Path(espeakng_loader.get_data_path()) / "voices" / "!v"
    return tuple(sorted(p.name for p in folder.iterdir() if p.is_file() and " " not in p.name))


class _Event(ctypes.Structure):
    """``espeak_EVENT`` from speak_lib.h (only the fields read here matter)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based character offset of the word
        ("length", ctypes.c_int),  # characters in the word
        ("audio_position", ctypes.c_int),  # milliseconds
        ("sample", ctypes.c_int),  # sample offset from the start of the utterance
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1

# Filled by the synth callback while one utterance is spoken (always under _lock).
_chunks: list[np.ndarray] = []
_word_events: list[tuple[int, int, int]] = []  # (text_position, length, sample)
_lock = threading.Lock()


def _on_audio(wav: ctypes._Pointer, n: int, events: int | None) -> int:
    if events:
        listed = ctypes.cast(events, ctypes.POINTER(_Event))
        i = 0
        while listed[i].type != _EVENT_LIST_TERMINATED:
            event = listed[i]
            if event.type == _EVENT_WORD:
                _word_events.append((event.text_position, event.length, event.sample))
            i += 1
    if wav and n > 0:
        _chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
    return 0  # 0 = keep synthesising


# The callback object must stay referenced: the library calls it after ctypes could free it.
_callback = _CALLBACK_TYPE(_on_audio)
_libc = ctypes.CDLL(None)  # the process's C library: espeak-ng's noise also draws from rand()


def _declare(lib: ctypes.CDLL) -> None:
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]


def _open() -> tuple[ctypes.CDLL, int]:
    """A freshly loaded, initialised library and its sample rate."""
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    _declare(lib)
    data = espeakng_loader.get_data_path().encode()
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INITIALIZE_DONT_EXIT)
    if rate <= 0:
        _close(lib)
        raise RuntimeError(f"espeak_Initialize failed (returned {rate}) with data path {data!r}")
    lib.espeak_SetSynthCallback(_callback)
    lib.espeak_ng_SetRandSeed(_RAND_SEED)
    _libc.srand(_RAND_SEED)
    return lib, rate


def _close(lib: ctypes.CDLL) -> None:
    """Terminate and unload, so that the next :func:`_open` starts from pristine static state."""
    import _ctypes

    lib.espeak_Terminate()
    _ctypes.dlclose(lib._handle)


def _speak(lib: ctypes.CDLL, text: str, voice: Voice) -> None:
    # Select the voice first: selecting a voice resets rate and pitch to the voice's defaults.
    if lib.espeak_SetVoiceByName(voice.name.encode()) != _EE_OK:
        raise ValueError(f"espeak-ng does not know the voice {voice.name!r}")
    lib.espeak_SetParameter(_PARAM_RATE, voice.rate, 0)
    lib.espeak_SetParameter(_PARAM_PITCH, voice.pitch, 0)
    lib.espeak_SetParameter(_PARAM_VOLUME, _VOLUME, 0)
    encoded = text.encode("utf-8")
    status = lib.espeak_Synth(
        encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
    )
    if status != _EE_OK:
        raise RuntimeError(f"espeak_Synth failed with status {status} for voice {voice.name!r}")


def _check(voice: Voice) -> None:
    if not 0 <= voice.pitch <= 99:
        raise ValueError(f"pitch must be within 0..99, but got {voice.pitch=}")
    if not 80 <= voice.rate <= 450:
        raise ValueError(f"rate must be within 80..450 words per minute, but got {voice.rate=}")
    # espeak-ng silently falls back to the plain voice for an unknown variant: check it here.
    if voice.variant and voice.variant not in list_variants():
        raise ValueError(f"unknown espeak-ng variant {voice.variant!r}; see list_variants()")


@dataclass(frozen=True)
class Utterance:
    """Synthesised speech: float32 samples in [-1, 1), their rate, and where each word starts.

    ``words[k]`` is ``(word, first_sample)``; word ``k`` lasts until word ``k + 1`` starts (or
    until the end of ``wave``), so cutting at a word's start keeps every earlier word whole.
    """

    wave: np.ndarray
    sample_rate: int
    words: tuple[tuple[str, int], ...]


def synthesize(text: str, voice: Voice) -> Utterance:
    """Speak ``text`` with ``voice`` at espeak-ng's native rate (22050 Hz), in memory.

    The same text and voice always give the same samples. Raises ``ValueError`` for an unknown
    voice or variant or an out-of-range pitch or rate, ``RuntimeError`` when synthesis fails or
    yields no audio. Thread-safe (serialised: the library has one global voice and callback).
    """
    _check(voice)
    with _lock:
        _chunks.clear()
        _word_events.clear()
        lib, rate = _open()
        try:
            _speak(lib, text, voice)
        finally:
            _close(lib)
        chunks, events = list(_chunks), list(_word_events)
    if not chunks:
        raise RuntimeError(f"espeak-ng produced no audio for {text!r} with voice {voice.name!r}")
    wave = np.concatenate(chunks).astype(np.float32) / np.float32(32768.0)
    words = tuple((text[pos - 1 : pos - 1 + length], sample) for pos, length, sample in events)
    return Utterance(wave, rate, words)
