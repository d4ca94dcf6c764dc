"""SepFormer: a masking network of dual-path transformers, no recurrence, no convolution.

C. Subakan, M. Ravanelli, S. Cornell, M. Bronzi and J. Zhong, "Attention is All You Need in
Speech Separation", ICASSP 2021, https://arxiv.org/abs/2010.13154

Encoder (Conv1d, ReLU) -> masking network -> decoder (ConvTranspose1d), as in Conv-TasNet. The
masking network cuts the encoded sequence into 50 %-overlapping chunks of ``chunk_size`` frames
and alternates two transformers: *intra*-chunk (short-term, within each chunk) and *inter*-chunk
(long-term, across chunks at the same position). Each is a stack of pre-norm transformer layers
with a sinusoidal positional encoding added to its input.

The ``paper`` preset is SpeechBrain's WSJ0-2mix recipe (``hparams/sepformer.yaml``): 256
filters of kernel 16 / stride 8, 2 dual-path blocks of 8 intra + 8 inter layers, d_model 256,
8 heads, feed-forward 1024, chunk 250: 25.7 M parameters, as SpeechBrain reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class Config:
    n_src: int = 2
    n_filters: int = 256  # encoder channels; also the transformers' d_model
    kernel_size: int = 16  # samples; the encoder hops kernel_size // 2
    n_blocks: int = 2  # dual-path blocks
    n_layers: int = 8  # transformer layers in each intra and each inter transformer
    n_heads: int = 8
    d_ffn: int = 1024
    chunk_size: int = 250  # frames per chunk (K); chunks overlap by half
    dropout: float = 0.0


PRESETS: dict[str, Config] = {
    "paper": Config(),
    # ~0.1 M parameters; 2 s at 8 kHz = 3999 frames -> 81 chunks of 100.
    "tiny": Config(n_filters=64, n_blocks=1, n_layers=1, n_heads=4, d_ffn=128, chunk_size=100),
}


def sinusoidal_encoding(length: int, dim: int, device: torch.device) -> Tensor:
    """Fixed absolute positions (Vaswani et al. 2017): sin on even, cos on odd channels."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)
    return table


class SelfAttention(nn.Module):
    """Multi-head self-attention, the parameters of ``nn.MultiheadAttention`` (fused QKV with
    bias, output projection), computed by ``scaled_dot_product_attention``."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"d_model must be divisible by n_heads, got {dim=} {heads=}")
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        batch, length, dim = x.shape
        qkv = self.qkv(x).view(batch, length, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each [batch, heads, length, head_dim]
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        return self.out(y.transpose(1, 2).reshape(batch, length, dim))


class TransformerLayer(nn.Module):
    """Pre-norm layer (LayerNorm before attention and before the ReLU feed-forward), as in
    SpeechBrain's ``TransformerEncoderLayer(normalize_before=True)``."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        d = config.n_filters
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.attention = SelfAttention(d, config.n_heads, config.dropout)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.ffn = nn.Sequential(
            nn.Linear(d, config.d_ffn),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.d_ffn, d),
        )
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.dropout(self.attention(self.norm1(x)))
        return x + self.dropout(self.ffn(self.norm2(x)))


class Transformer(nn.Module):
    """Positional encoding + ``n_layers`` layers + a final LayerNorm, on ``[batch, L, d]``."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TransformerLayer(config) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(config.n_filters, eps=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        x = x + sinusoidal_encoding(x.shape[1], x.shape[2], x.device).to(x.dtype)
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


class DualPathBlock(nn.Module):
    """Intra-chunk transformer, then inter-chunk transformer, each followed by a global layer
    norm and wrapped in a residual connection. Works on chunks ``[B, N, K, S]``."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        n = config.n_filters
        self.intra, self.intra_norm = Transformer(config), nn.GroupNorm(1, n, eps=1e-8)
        self.inter, self.inter_norm = Transformer(config), nn.GroupNorm(1, n, eps=1e-8)

    def forward(self, x: Tensor) -> Tensor:
        b, n, k, s = x.shape
        # Intra: each of the B * S chunks is a sequence of K frames.
        h = self.intra(x.permute(0, 3, 2, 1).reshape(b * s, k, n))
        x = x + self.intra_norm(h.view(b, s, k, n).permute(0, 3, 2, 1))
        # Inter: each of the B * K chunk positions is a sequence of S chunks.
        h = self.inter(x.permute(0, 2, 3, 1).reshape(b * k, s, n))
        return x + self.inter_norm(h.view(b, k, s, n).permute(0, 3, 1, 2))


class Masker(nn.Module):
    """gLN -> 1x1 -> chunk -> dual-path blocks -> PReLU -> 1x1 to n_src -> overlap-add ->
    tanh * sigmoid gate -> 1x1 -> ReLU mask (SpeechBrain's ``Dual_Path_Model``)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        n, self.config = config.n_filters, config
        self.norm = nn.GroupNorm(1, n, eps=1e-8)
        self.conv_in = nn.Conv1d(n, n, 1, bias=False)
        self.blocks = nn.ModuleList(DualPathBlock(config) for _ in range(config.n_blocks))
        self.prelu = nn.PReLU()
        self.conv_src = nn.Conv2d(n, n * config.n_src, 1)
        self.output = nn.Conv1d(n, n, 1)
        self.output_gate = nn.Conv1d(n, n, 1)
        self.conv_out = nn.Conv1d(n, n, 1, bias=False)

    def forward(self, w: Tensor) -> Tensor:
        """``w`` [B, N, L] -> masks [B, n_src, N, L]."""
        batch, n, length = w.shape
        k, hop = self.config.chunk_size, self.config.chunk_size // 2
        # Pad so that chunks of K with hop K/2 tile the sequence and every frame is in two chunks.
        n_chunks = max(1, math.ceil(length / hop)) + 1
        padded = (n_chunks - 1) * hop + k
        x = F.pad(self.conv_in(self.norm(w)), (hop, padded - length - hop))
        x = x.unfold(-1, k, hop).transpose(2, 3)  # [B, N, K, S]
        for block in self.blocks:
            x = block(x)
        x = self.conv_src(self.prelu(x))  # [B, n_src * N, K, S]
        x = x.reshape(batch * self.config.n_src, n * k, n_chunks)
        x = F.fold(x, (1, padded), kernel_size=(1, k), stride=(1, hop))  # overlap-add
        x = x.view(batch * self.config.n_src, n, padded)[..., hop : hop + length]
        x = torch.tanh(self.output(x)) * torch.sigmoid(self.output_gate(x))
        return F.relu(self.conv_out(x)).view(batch, self.config.n_src, n, length)


class SepFormer(nn.Module):
    def __init__(self, config: Config) -> None:
        super().__init__()
        if config.kernel_size % 2 or config.chunk_size < 2:
            raise ValueError(f"kernel_size must be even and chunk_size >= 2, got {config=}")
        self.config = config
        self.stride = config.kernel_size // 2
        self.encoder = nn.Conv1d(1, config.n_filters, config.kernel_size, self.stride, bias=False)
        self.masker = Masker(config)
        self.decoder = nn.ConvTranspose1d(
            config.n_filters, 1, config.kernel_size, self.stride, bias=False
        )

    def forward(self, mixture: Tensor) -> Tensor:
        """``mixture`` [B, T] -> estimates [B, n_src, T] (any T >= 1)."""
        batch, length = mixture.shape
        n_frames = max(1, -(-(length - self.config.kernel_size) // self.stride) + 1)
        padded = (n_frames - 1) * self.stride + self.config.kernel_size
        # ReLU keeps the encoded representation non-negative, like a magnitude spectrogram.
        w = F.relu(self.encoder(F.pad(mixture, (0, padded - length)).unsqueeze(1)))
        masked = self.masker(w) * w.unsqueeze(1)  # [B, n_src, N, L]
        flat = masked.reshape(batch * self.config.n_src, self.config.n_filters, -1)
        return self.decoder(flat).view(batch, self.config.n_src, -1)[..., :length]


def build(config: Config) -> nn.Module:
    return SepFormer(config)
