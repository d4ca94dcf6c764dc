"""DeepSpeech2 (Amodei et al., ICML 2016) for character CTC, as in SeanNaren's deepspeech.pytorch.

waveform [B, T], lengths [B]
  -> log spectrogram (paper preset: 32 ms Hamming window, 257 bins, 10 ms hop: the 257 bins
     of a researcher's DeepSpeech2 log)
     or log-mel (tiny)                                                      [B, 1, F, frames]
  -> conv 41x11 stride 2x2 + BN + Hardtanh(0, 20)
  -> conv 21x11 stride 2x1 + BN + Hardtanh(0, 20)                           [B, C, F/4, frames/2]
  -> ``rnn_layers`` bidirectional GRUs over time (directions summed, sequence-wise BN between),
     packed with the *real* lengths so the backward GRU starts at the end of the speech
  -> BN + linear to 29 symbols (blank, apostrophe, a-z, space), log-softmax   [frames/2, B, 29]

Returns ``(log_probs [T', B, 29] fp32, output_lengths [B] int64)``: what ``nn.CTCLoss`` takes.

Parameter counts (``count_parameters``): ``paper`` (5 bidirectional GRUs of 800 over 257
spectrogram bins, the model of a researcher's DeepSpeech2 log; 32 conv channels) has 44.9 M;
``tiny`` (8 kHz, 40 log-mel bands, 8 conv channels, 2 GRUs of 96) 0.24 M.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from trainers.data.transcripts import ALPHABET
from trainers.models.features import LogMel, Spectrogram, frame_lengths


@dataclass(frozen=True)
class Config:
    sample_rate: int = 16000  # must match the data
    features: str = "spectrogram"  # spectrogram | logmel
    n_mels: int = 40  # for logmel
    win_ms: float = 32.0
    hop_ms: float = 10.0
    conv_channels: int = 32
    rnn_hidden: int = 800
    rnn_layers: int = 5
    n_classes: int = len(ALPHABET)  # 29: blank + 28 characters

    def __post_init__(self) -> None:
        if self.features not in ("spectrogram", "logmel"):
            raise ValueError(f"unknown features {self.features!r}; valid: logmel, spectrogram")
        if self.n_classes != len(ALPHABET):
            raise ValueError(
                f"n_classes must be {len(ALPHABET)} (the alphabet {ALPHABET!r}), got {self.n_classes}"
            )


PRESETS: dict[str, Config] = {
    "paper": Config(),
    "tiny": Config(
        sample_rate=8000,
        features="logmel",
        win_ms=25.0,
        conv_channels=8,
        rnn_hidden=96,
        rnn_layers=2,
    ),
}


def conv_out(size: Tensor | int, kernel: int, stride: int, padding: int) -> Tensor | int:
    return (size + 2 * padding - kernel) // stride + 1


class BatchRNN(nn.Module):
    """(optional sequence-wise BN) + bidirectional GRU whose two directions are summed."""

    def __init__(self, n_in: int, hidden: int, batch_norm: bool) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(n_in) if batch_norm else None
        self.rnn = nn.GRU(n_in, hidden, bidirectional=True)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        if self.norm is not None:  # [T, B, H]: normalise every frame's features
            x = self.norm(x.transpose(1, 2).transpose(0, 2)).transpose(0, 2).transpose(1, 2)
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        out, _ = pad_packed_sequence(self.rnn(packed)[0], total_length=x.shape[0])
        return out.view(out.shape[0], out.shape[1], 2, -1).sum(2)


class DeepSpeech2(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        if config.features == "logmel":
            self.features: Spectrogram = LogMel(
                config.sample_rate, config.n_mels, config.win_ms, config.hop_ms
            )
            n_freq = config.n_mels
        else:
            self.features = Spectrogram(config.sample_rate, config.win_ms, config.hop_ms)
            n_freq = self.features.n_bins
        c = config.conv_channels
        self.conv = nn.Sequential(
            nn.Conv2d(1, c, (41, 11), (2, 2), (20, 5)),
            nn.BatchNorm2d(c),
            nn.Hardtanh(0, 20, inplace=True),
            nn.Conv2d(c, c, (21, 11), (2, 1), (10, 5)),
            nn.BatchNorm2d(c),
            nn.Hardtanh(0, 20, inplace=True),
        )
        freq_out = conv_out(conv_out(n_freq, 41, 2, 20), 21, 2, 10)
        sizes = [c * int(freq_out)] + [config.rnn_hidden] * config.rnn_layers
        self.rnns = nn.ModuleList(
            BatchRNN(sizes[i], sizes[i + 1], batch_norm=i > 0) for i in range(config.rnn_layers)
        )
        self.head = nn.Sequential(
            nn.BatchNorm1d(config.rnn_hidden),
            nn.Linear(config.rnn_hidden, config.n_classes, bias=False),
        )

    def output_lengths(self, lengths: Tensor) -> Tensor:
        """Frames after the front end for waveforms of ``lengths`` samples (real, not padded)."""
        frames = frame_lengths(lengths, self.features.hop)
        return conv_out(frames, 11, 2, 5).long()  # type: ignore[union-attr]

    def forward(self, wav: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        x = self.conv(self.features(wav).unsqueeze(1))  # [B, C, F', T']
        x = x.flatten(1, 2).permute(2, 0, 1).contiguous()  # [T', B, C*F']
        out_lengths = self.output_lengths(lengths).clamp(max=x.shape[0])
        for rnn in self.rnns:
            x = rnn(x, out_lengths)
        t, b, h = x.shape
        logits = self.head(x.reshape(t * b, h)).reshape(t, b, -1)
        return F.log_softmax(logits.float(), dim=-1), out_lengths


def build(config: Config) -> DeepSpeech2:
    return DeepSpeech2(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
