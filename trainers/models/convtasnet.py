"""Conv-TasNet: a learned encoder, a temporal convolutional network (TCN) masker and a decoder.

Y. Luo and N. Mesgarani, "Conv-TasNet: Surpassing Ideal Time-Frequency Magnitude Masking for
Speech Separation", IEEE/ACM TASLP 27(8), 2019. https://arxiv.org/abs/1809.07454

The ``paper`` preset is Asteroid's ConvTasNet recipe (WHAM!/LibriMix ``conf.yml``: N=512, L=16,
B=128, H=512, P=3, X=8, R=3, Sc=128, gLN, ReLU mask): 5.05 M parameters, the same count as
Asteroid's ``ConvTasNet``. The names in comments are the paper's symbols:

* N filters of length L (stride L/2) in the encoder and decoder,
* B bottleneck channels, H channels inside each convolutional block, P its kernel size,
* X blocks with dilations 1, 2, ..., 2^(X-1), repeated R times, Sc skip-connection channels.

Two operator choices make this faster than Asteroid's on the CPU without changing the
architecture (same parameters, same function):

* gLN (mean/variance over channels *and* time, per-channel gain and bias) is exactly
  ``GroupNorm`` with one group, which is one fused kernel instead of five elementwise passes;
* each block's residual and skip 1x1 convolutions read the same input, so they run as one
  convolution with B + Sc output channels that is then split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MaskActivation = Literal["relu", "sigmoid", "softmax"]


@dataclass
class Config:
    n_src: int = 2
    n_filters: int = 512  # N
    kernel_size: int = 16  # L (samples); the encoder hops L // 2
    bn_chan: int = 128  # B
    hid_chan: int = 512  # H
    skip_chan: int = 128  # Sc
    conv_kernel_size: int = 3  # P
    n_blocks: int = 8  # X
    n_repeats: int = 3  # R
    mask_act: MaskActivation = "relu"


PRESETS: dict[str, Config] = {
    "paper": Config(),
    # ~0.1 M parameters, receptive field 2 * (1 + 2 + 4 + 8 + 16 + 32) frames = 0.2 s at 8 kHz.
    "tiny": Config(n_filters=64, bn_chan=32, hid_chan=64, skip_chan=32, n_blocks=6, n_repeats=1),
}


def global_layer_norm(channels: int) -> nn.GroupNorm:
    """gLN of the paper (eq. 13): normalise over channels and time, then a per-channel affine.

    One group spanning every channel is the same computation; eps 1e-8 as in the reference.
    """
    return nn.GroupNorm(1, channels, eps=1e-8)


class ConvBlock(nn.Module):
    """1x1 conv -> PReLU -> gLN -> dilated depthwise conv -> PReLU -> gLN -> (residual, skip)."""

    def __init__(self, config: Config, dilation: int) -> None:
        super().__init__()
        hid = config.hid_chan
        self.bn_chan, self.skip_chan = config.bn_chan, config.skip_chan
        self.pointwise_in = nn.Conv1d(config.bn_chan, hid, 1)
        self.act1 = nn.PReLU()
        self.norm1 = global_layer_norm(hid)
        # "same" padding keeps the frame count: the model is non-causal.
        padding = dilation * (config.conv_kernel_size - 1) // 2
        self.depthwise = nn.Conv1d(
            hid, hid, config.conv_kernel_size, padding=padding, dilation=dilation, groups=hid
        )
        self.act2 = nn.PReLU()
        self.norm2 = global_layer_norm(hid)
        # Residual (B channels) and skip (Sc channels) outputs as one convolution, split after.
        self.res_skip = nn.Conv1d(hid, config.bn_chan + config.skip_chan, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.norm1(self.act1(self.pointwise_in(x)))
        h = self.norm2(self.act2(self.depthwise(h)))
        residual, skip = self.res_skip(h).split([self.bn_chan, self.skip_chan], dim=1)
        return x + residual, skip


class TCNMasker(nn.Module):
    """gLN -> bottleneck 1x1 -> R x X ConvBlocks (skip outputs summed) -> PReLU -> 1x1 -> mask."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.bottleneck = nn.Sequential(
            global_layer_norm(config.n_filters), nn.Conv1d(config.n_filters, config.bn_chan, 1)
        )
        self.blocks = nn.ModuleList(
            ConvBlock(config, dilation=2**x)
            for _ in range(config.n_repeats)
            for x in range(config.n_blocks)
        )
        self.head = nn.Sequential(
            nn.PReLU(), nn.Conv1d(config.skip_chan, config.n_src * config.n_filters, 1)
        )

    def forward(self, w: Tensor) -> Tensor:
        """``w`` [B, N, frames] -> masks [B, n_src, N, frames]."""
        x = self.bottleneck(w)
        skip_sum = torch.zeros((), dtype=x.dtype, device=x.device)
        for block in self.blocks:
            x, skip = block(x)
            skip_sum = skip_sum + skip
        logits = self.head(skip_sum).view(w.shape[0], self.config.n_src, *w.shape[1:])
        return self._activate(logits)

    def _activate(self, logits: Tensor) -> Tensor:
        if self.config.mask_act == "relu":
            return F.relu(logits)
        if self.config.mask_act == "sigmoid":
            return torch.sigmoid(logits)
        if self.config.mask_act == "softmax":  # masks sum to one over the sources
            return torch.softmax(logits, dim=1)
        raise ValueError(
            f"unknown mask_act {self.config.mask_act!r}; valid: relu, sigmoid, softmax"
        )


class ConvTasNet(nn.Module):
    """Waveform in, ``n_src`` waveforms out: decoder(encoder(x) * mask_i) for each source i."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        if config.kernel_size % 2:
            raise ValueError(f"kernel_size must be even (the hop is half of it), got {config=}")
        self.config = config
        self.stride = config.kernel_size // 2
        # A "free" filterbank as in Asteroid: linear encoder (no bias, no activation).
        self.encoder = nn.Conv1d(1, config.n_filters, config.kernel_size, self.stride, bias=False)
        self.masker = TCNMasker(config)
        self.decoder = nn.ConvTranspose1d(
            config.n_filters, 1, config.kernel_size, self.stride, bias=False
        )

    def forward(self, mixture: Tensor) -> Tensor:
        """``mixture`` [B, T] -> estimates [B, n_src, T] (any T >= 1)."""
        batch, length = mixture.shape
        # Pad so that the frames cover every sample; the decoder output is cropped back to T.
        n_frames = max(1, -(-(length - self.config.kernel_size) // self.stride) + 1)
        padded = (n_frames - 1) * self.stride + self.config.kernel_size
        w = self.encoder(F.pad(mixture, (0, padded - length)).unsqueeze(1))  # [B, N, frames]
        masked = self.masker(w) * w.unsqueeze(1)  # [B, n_src, N, frames]
        flat = masked.reshape(batch * self.config.n_src, self.config.n_filters, -1)
        return self.decoder(flat).view(batch, self.config.n_src, -1)[..., :length]


def build(config: Config) -> nn.Module:
    return ConvTasNet(config)
