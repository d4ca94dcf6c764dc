"""Acoustic features in plain PyTorch: log-mel filterbanks, MFCCs, log spectrograms.

torchaudio does not load beside torch 2.13 here, so the features are ``torch.stft`` plus our own
HTK-style mel filterbank and DCT-II matrix. They are ``nn.Module``s so they run on the model's
device (inside the model, as voxceleb_trainer's ``torchfb``), in fp32 even under autocast: log of
an fp16 power underflows for quiet frames.

Shapes: waveforms ``[B, T]`` -> features ``[B, n_features, frames]`` with
``frames = T // hop + 1`` (centred STFT). :func:`frame_lengths` maps sample lengths to frames.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

FEATURES = ("logmel", "mfcc", "spectrogram")


def hz_to_mel(hz: Tensor) -> Tensor:
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def mel_to_hz(mel: Tensor) -> Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(
    n_mels: int, n_fft: int, sample_rate: int, f_min: float = 0.0, f_max: float | None = None
) -> Tensor:
    """Triangular HTK mel filters ``[n_mels, n_fft // 2 + 1]`` (peak 1, as torchaudio's default)."""
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(f"need 0 <= f_min < f_max <= sample_rate/2, got {f_min=}, {f_max=}")
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(
        torch.linspace(hz_to_mel(torch.tensor(f_min)), hz_to_mel(torch.tensor(f_max)), n_mels + 2)
    )
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0)


def dct_matrix(n_mfcc: int, n_mels: int) -> Tensor:
    """Orthonormal DCT-II ``[n_mfcc, n_mels]`` (what librosa/torchaudio use for MFCCs)."""
    n = torch.arange(n_mels, dtype=torch.float64)
    k = torch.arange(n_mfcc, dtype=torch.float64)[:, None]
    basis = torch.cos(math.pi / n_mels * (n + 0.5) * k) * math.sqrt(2.0 / n_mels)
    basis[0] /= math.sqrt(2.0)
    return basis.float()


def frame_lengths(lengths: Tensor, hop: int) -> Tensor:
    """Valid STFT frames for waveforms of ``lengths`` samples (centred frames)."""
    return torch.div(lengths, hop, rounding_mode="floor") + 1


class Spectrogram(nn.Module):
    """Log power spectrogram ``[B, n_fft // 2 + 1, frames]`` (DeepSpeech2's input)."""

    window: torch.Tensor  # buffers, declared for the type checker

    def __init__(self, sample_rate: int, win_ms: float = 25.0, hop_ms: float = 10.0) -> None:
        super().__init__()
        self.win = round(sample_rate * win_ms / 1000)
        self.hop = round(sample_rate * hop_ms / 1000)
        self.n_fft = 2 ** math.ceil(math.log2(self.win))
        self.register_buffer("window", torch.hamming_window(self.win), persistent=False)

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def power(self, wav: Tensor) -> Tensor:
        spec = torch.stft(
            wav.float(),
            self.n_fft,
            self.hop,
            self.win,
            self.window,
            center=True,
            return_complex=True,
        )
        return spec.real.square() + spec.imag.square()

    def forward(self, wav: Tensor) -> Tensor:
        with torch.autocast(wav.device.type, enabled=False):
            return torch.log(self.power(wav) + 1e-6)


class LogMel(Spectrogram):
    """Log mel filterbank energies ``[B, n_mels, frames]``, with pre-emphasis (voxceleb_trainer)."""

    fbank: torch.Tensor

    def __init__(self, sample_rate: int, n_mels: int, win_ms: float = 25.0, hop_ms: float = 10.0):
        super().__init__(sample_rate, win_ms, hop_ms)
        self.n_mels = n_mels
        self.register_buffer(
            "fbank", mel_filterbank(n_mels, self.n_fft, sample_rate), persistent=False
        )

    def forward(self, wav: Tensor) -> Tensor:
        with torch.autocast(wav.device.type, enabled=False):
            wav = wav.float()
            emphasised = torch.cat([wav[..., :1], wav[..., 1:] - 0.97 * wav[..., :-1]], dim=-1)
            return torch.log(torch.matmul(self.fbank, self.power(emphasised)) + 1e-6)


class MFCC(LogMel):
    """``n_mfcc`` cepstral coefficients of the log-mel energies ``[B, n_mfcc, frames]``."""

    dct: torch.Tensor

    def __init__(self, sample_rate: int, n_mfcc: int, n_mels: int = 40, **kwargs: float) -> None:
        super().__init__(sample_rate, n_mels, **kwargs)
        if n_mfcc > n_mels:
            raise ValueError(f"n_mfcc must be <= n_mels, got {n_mfcc=}, {n_mels=}")
        self.register_buffer("dct", dct_matrix(n_mfcc, n_mels), persistent=False)

    def forward(self, wav: Tensor) -> Tensor:
        return torch.matmul(self.dct, super().forward(wav))


def make_features(kind: str, sample_rate: int, n_features: int) -> Spectrogram:
    """A feature extractor by name (``logmel``, ``mfcc``, ``spectrogram``); ``n_features`` is the
    number of mel bands or coefficients (ignored by ``spectrogram``: it has ``n_fft // 2 + 1``)."""
    if kind == "logmel":
        return LogMel(sample_rate, n_features)
    if kind == "mfcc":
        return MFCC(sample_rate, n_features, n_mels=max(40, n_features))
    if kind == "spectrogram":
        return Spectrogram(sample_rate)
    raise ValueError(f"unknown features {kind!r}; valid: {', '.join(FEATURES)}")
