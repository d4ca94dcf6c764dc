"""FastCNN: the LightweightCNNEncoder speaker classifier (voiceflow's ``fast_cnn``) of a
researcher's speaker-classification log (LibriSpeech speakers, raw waveform in).

waveform [B, T]
  -> front end: ``raw`` (the log's first model: a strided Conv1d on samples, in_channels=1) or
     ``mfcc`` / ``logmel`` (the log's planned fix: cepstra/filterbanks, instance-normalised)
  -> residual 1-D conv stages: [conv-BN-ReLU-conv-BN + shortcut, ReLU], max-pool x2 between
  -> global average over time, dropout, linear classifier                [B, n_classes]

That CNN has no published reference, so ``paper`` is the log's deployed shape (raw
waveform, four residual stages 64-128-256-256) with VoxCeleb1 identification's 1251 classes:
1.16 M parameters (``count_parameters``). ``tiny`` (log-mel 40, stages 32-64-64, 600 classes for
the demo's 581 training speakers) has 0.09 M.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from trainers.models.features import make_features


@dataclass(frozen=True)
class Config:
    sample_rate: int = 16000  # must match the data
    features: str = "raw"  # raw | mfcc | logmel
    n_features: int = 40  # mel bands or MFCCs
    channels: tuple[int, ...] = (64, 128, 256, 256)
    kernel_size: int = 3
    dropout: float = 0.5  # before the classifier (a researcher's speaker-recognition notes: 0.5)
    n_classes: int = 1251  # >= speakers in the data

    def __post_init__(self) -> None:
        if self.features not in ("raw", "mfcc", "logmel"):
            raise ValueError(f"unknown features {self.features!r}; valid: logmel, mfcc, raw")
        if not self.channels:
            raise ValueError("channels needs at least one stage")


PRESETS: dict[str, Config] = {
    "paper": Config(),
    "tiny": Config(
        sample_rate=8000, features="logmel", channels=(32, 64, 64), dropout=0.2, n_classes=600
    ),
}


class ResBlock1d(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__()
        pad = kernel // 2
        self.body = nn.Sequential(
            nn.Conv1d(c_in, c_out, kernel, padding=pad, bias=False),
            nn.BatchNorm1d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv1d(c_out, c_out, kernel, padding=pad, bias=False),
            nn.BatchNorm1d(c_out),
        )
        self.shortcut: nn.Module = (
            nn.Identity() if c_in == c_out else nn.Conv1d(c_in, c_out, 1, bias=False)
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class FrontEnd(nn.Module):
    """Waveform -> ``[B, channels, frames]``: a learned strided conv, or normalised features."""

    def __init__(self, config: Config, channels: int) -> None:
        super().__init__()
        if config.features == "raw":
            # 80-sample kernels with stride 4 (M5-style): a learned filterbank on the samples
            self.net: nn.Module = nn.Sequential(
                nn.Conv1d(1, channels, 80, stride=4, padding=38),
                nn.BatchNorm1d(channels),
                nn.ReLU(inplace=True),
                nn.MaxPool1d(4),
            )
            self.features: nn.Module | None = None
        else:
            self.features = make_features(config.features, config.sample_rate, config.n_features)
            self.net = nn.Sequential(
                nn.InstanceNorm1d(config.n_features),  # per-utterance mean/variance per band
                nn.Conv1d(
                    config.n_features, channels, config.kernel_size, padding=config.kernel_size // 2
                ),
                nn.BatchNorm1d(channels),
                nn.ReLU(inplace=True),
            )

    def forward(self, wav: Tensor) -> Tensor:
        x = wav.unsqueeze(1) if self.features is None else self.features(wav)
        return self.net(x)


class LightweightCNNEncoder(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.front = FrontEnd(config, config.channels[0])
        stages: list[nn.Module] = []
        c_in = config.channels[0]
        for i, c_out in enumerate(config.channels):
            if i > 0:
                stages.append(nn.MaxPool1d(2))
            stages.append(ResBlock1d(c_in, c_out, config.kernel_size))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(c_in, config.n_classes))

    def forward(self, wav: Tensor) -> Tensor:
        """Class logits ``[B, n_classes]``."""
        x = self.stages(self.front(wav))
        return self.head(x.mean(dim=2))


def build(config: Config) -> LightweightCNNEncoder:
    return LightweightCNNEncoder(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
