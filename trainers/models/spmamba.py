"""SPMamba: TF-GridNet with bidirectional Mamba in place of its BLSTMs.

K. Li, G. Chen and X. Hu, "SPMamba: State-space model is all you need in speech separation",
2024, https://arxiv.org/abs/2404.02063 (code: github.com/JusperLee/SPMamba). It builds on
Z.-Q. Wang et al., "TF-GridNet: Integrating Full- and Sub-Band Modeling for Speech Separation",
IEEE/ACM TASLP 2023, and on Mamba (Gu & Dao 2023, https://arxiv.org/abs/2312.00752).

The model works on the complex STFT of the mixture, its real and imaginary parts stacked as two
channels of an image ``[B, 2, frames T, frequencies F]``:

1. a 3x3 conv embeds every TF bin into ``emb_dim`` channels;
2. ``n_layers`` GridNet blocks, each
   * intra-frame (sub-band -> full-band): along F, unfold ``emb_ks`` neighbouring bins, run a
     bidirectional Mamba over the frequency axis, fold back with a transposed 1-D conv;
   * inter-frame: the same along T (this is where temporal context is modelled);
   * full-band self-attention over frames, every head attending with all frequencies at once;
3. a transposed 3x3 conv to ``n_src`` complex spectra, and the inverse STFT.

The ``paper`` preset is the SPMamba repository's WSJ0-2mix config (``configs/spmamba-wsj0.yml``:
n_fft 256, hop 64, 6 layers, emb_dim 16, emb_ks 8, emb_hs 1, 4 heads, approx_qk_dim 512, and
Mamba d_state 16, d_conv 4, expand 4): 6.09 M parameters. The scan is
:mod:`trainers.models.selective_scan` (pure PyTorch, chunked; mamba_ssm's kernel on CUDA when present).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from trainers.models.selective_scan import DEFAULT_CHUNK, selective_scan


@dataclass
class Config:
    n_src: int = 2
    n_fft: int = 256
    hop: int = 64
    n_layers: int = 6
    emb_dim: int = 16  # channels per TF bin (D)
    emb_ks: int = 8  # bins/frames unfolded into one Mamba token (I)
    emb_hs: int = 1  # unfold hop (J)
    attn_heads: int = 4
    attn_qk_dim: int = 512  # approximate size of a query (E * F)
    d_state: int = 16  # Mamba state size N
    d_conv: int = 4  # Mamba causal depthwise conv width
    expand: int = 4  # Mamba inner width = expand * emb_dim * emb_ks
    eps: float = 1e-5
    scan_chunk: int = DEFAULT_CHUNK  # memory/speed knob of the CPU scan, not architecture
    # Recompute each Mamba layer in backward instead of storing its activations: the inner width
    # (expand * emb_dim * emb_ks = 512) times ~15 K tokens per scan makes every stored tensor
    # ~31 MB, ~15 of them per layer and 24 layers: ~11 GB for 1 s of audio. Costs one more
    # forward of each Mamba layer. A memory knob, not architecture.
    grad_checkpoint: bool = False


PRESETS: dict[str, Config] = {
    "paper": Config(grad_checkpoint=True),
    # 2 s at 8 kHz -> 251 frames x 65 bins, ~38 K parameters. Non-overlapping tokens
    # (emb_hs = emb_ks) and a small state cut the scan's work ~16x against emb_hs=1, d_state=16:
    # on a CPU the scan is the cost.
    "tiny": Config(
        n_fft=128,
        n_layers=1,
        emb_dim=8,
        emb_ks=4,
        emb_hs=4,
        attn_heads=2,
        attn_qk_dim=64,
        d_state=4,
        expand=2,
    ),
}


class RMSNorm(nn.Module):
    """Root-mean-square norm (no centering), as Mamba's residual blocks use."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Mamba(nn.Module):
    """The Mamba mixer (selective SSM block) of Gu & Dao, Fig. 3, on ``[b, L, d_model]``."""

    def __init__(self, d_model: int, d_state: int, d_conv: int, expand: int, chunk: int) -> None:
        super().__init__()
        d_inner = expand * d_model
        self.dt_rank = math.ceil(d_model / 16)
        self.d_state, self.chunk = d_state, chunk
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)  # x branch and gate z
        # Causal depthwise conv: pad d_conv - 1 on both sides and keep the first L outputs.
        self.conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner, padding=d_conv - 1)
        # Input-dependent ("selective") delta, B and C.
        self.x_proj = nn.Linear(d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, d_inner)
        # S4D-real init: A = -(1, 2, ..., N) per channel, stored as log so A stays negative.
        a = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1)
        self.A_log = nn.Parameter(torch.log(a))
        self.D = nn.Parameter(torch.ones(d_inner))
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)
        self._init_dt()

    def _init_dt(self, dt_min: float = 1e-3, dt_max: float = 0.1) -> None:
        """softplus(bias) is log-uniform in [dt_min, dt_max]: a spread of time scales at init."""
        nn.init.uniform_(self.dt_proj.weight, -(self.dt_rank**-0.5), self.dt_rank**-0.5)
        d_inner = self.dt_proj.bias.shape[0]
        log_dt = torch.rand(d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        dt = torch.exp(log_dt).clamp(min=1e-4)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus

    def forward(self, x: Tensor) -> Tensor:
        length = x.shape[1]
        u, z = self.in_proj(x).chunk(2, dim=-1)  # [b, L, d_inner] each
        u = F.silu(self.conv1d(u.transpose(1, 2))[..., :length])  # [b, d_inner, L]
        dt, B, C = self.x_proj(u.transpose(1, 2)).split(
            [self.dt_rank, self.d_state, self.d_state], dim=-1
        )
        delta = F.linear(dt, self.dt_proj.weight).transpose(1, 2)  # bias goes in the scan
        y = selective_scan(
            u,
            delta,
            -torch.exp(self.A_log),
            B.transpose(1, 2),
            C.transpose(1, 2),
            self.D,
            z.transpose(1, 2),
            self.dt_proj.bias,
            delta_softplus=True,
            chunk_size=self.chunk,
        )
        return self.out_proj(y.transpose(1, 2))


class BiMamba(nn.Module):
    """A pre-norm residual Mamba layer run forwards and on the reversed sequence; the two outputs
    are concatenated (``[b, L, 2 * dim]``) exactly where TF-GridNet's BLSTM concatenates."""

    def __init__(self, dim: int, config: Config) -> None:
        super().__init__()
        args = (dim, config.d_state, config.d_conv, config.expand, config.scan_chunk)
        self.fwd = nn.Sequential(RMSNorm(dim, config.eps), Mamba(*args))
        self.bwd = nn.Sequential(RMSNorm(dim, config.eps), Mamba(*args))
        self.grad_checkpoint = config.grad_checkpoint

    def _residual(self, layer: nn.Module, x: Tensor) -> Tensor:
        if self.grad_checkpoint and torch.is_grad_enabled():
            return x + checkpoint(layer, x, use_reentrant=False)
        return x + layer(x)

    def forward(self, x: Tensor) -> Tensor:
        forward = self._residual(self.fwd, x)
        backward = self._residual(self.bwd, x.flip(1)).flip(1)
        return torch.cat([forward, backward], dim=-1)


class ChannelNorm(nn.Module):
    """LayerNorm over channels at every TF bin of ``[B, C, T, F]`` (TF-GridNet's LayerNorm4D)."""

    def __init__(self, channels: int, eps: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class SequenceModule(nn.Module):
    """Norm -> unfold ``emb_ks`` neighbours into one token -> BiMamba -> fold back, + residual.

    Runs along the last axis of ``[B, C, T, F]``; the caller transposes for the time axis.
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.ks, self.hs = config.emb_ks, config.emb_hs
        token = config.emb_dim * config.emb_ks
        self.norm = ChannelNorm(config.emb_dim, config.eps)
        self.mamba = BiMamba(token, config)
        self.fold = nn.ConvTranspose1d(
            2 * token, config.emb_dim, config.emb_ks, stride=config.emb_hs
        )

    def forward(self, x: Tensor) -> Tensor:
        batch, channels, rows, length = x.shape  # length is a multiple of the unfold grid
        h = self.norm(x).transpose(1, 2).reshape(batch * rows, channels, length)
        tokens = h.unfold(-1, self.ks, self.hs)  # [BR, C, n_tok, ks]
        tokens = tokens.permute(0, 2, 1, 3).flatten(2)  # [BR, n_tok, C * ks]
        h = self.fold(self.mamba(tokens).transpose(1, 2))  # [BR, C, length]
        return x + h.view(batch, rows, channels, length).transpose(1, 2)


class HeadProjection(nn.Module):
    """Per-head 1x1 conv -> PReLU -> LayerNorm over (channels, frequencies), all heads at once.

    Equivalent to TF-GridNet's ``attn_conv_{Q,K,V}_h`` modules (same parameters), batched.
    """

    def __init__(self, in_ch: int, heads: int, out_ch: int, n_freqs: int, eps: float) -> None:
        super().__init__()
        self.heads, self.out_ch, self.eps = heads, out_ch, eps
        self.conv = nn.Conv2d(in_ch, heads * out_ch, 1)
        self.prelu_weight = nn.Parameter(torch.full((heads, 1, 1, 1), 0.25))
        self.gamma = nn.Parameter(torch.ones(heads, 1, out_ch, n_freqs))
        self.beta = nn.Parameter(torch.zeros(heads, 1, out_ch, n_freqs))

    def forward(self, x: Tensor) -> Tensor:
        """``[B, C, T, F]`` -> ``[B, heads, T, out_ch, F]``."""
        batch, _, frames, freqs = x.shape
        h = self.conv(x).view(batch, self.heads, self.out_ch, frames, freqs)
        h = torch.where(h >= 0, h, self.prelu_weight * h).transpose(2, 3)
        h = F.layer_norm(h, (self.out_ch, freqs), eps=self.eps)
        return h * self.gamma + self.beta


class FullBandAttention(nn.Module):
    """Self-attention across frames; a query is a head's whole spectrum (E x F values)."""

    def __init__(self, config: Config, n_freqs: int) -> None:
        super().__init__()
        d, heads = config.emb_dim, config.attn_heads
        if d % heads:
            raise ValueError(f"emb_dim must be divisible by attn_heads, got {config=}")
        qk = math.ceil(config.attn_qk_dim / n_freqs)  # E: approx_qk_dim is only approximate
        self.q = HeadProjection(d, heads, qk, n_freqs, config.eps)
        self.k = HeadProjection(d, heads, qk, n_freqs, config.eps)
        self.v = HeadProjection(d, heads, d // heads, n_freqs, config.eps)
        self.proj = nn.Sequential(nn.Conv2d(d, d, 1), nn.PReLU())
        self.proj_norm = nn.LayerNorm([d, n_freqs], eps=config.eps)

    def forward(self, x: Tensor) -> Tensor:
        batch, channels, frames, freqs = x.shape
        v = self.v(x)  # [B, H, T, C/H, F]
        # Scaled by 1/sqrt(E * F), the flattened query size, as in TF-GridNet.
        out = F.scaled_dot_product_attention(
            self.q(x).flatten(3), self.k(x).flatten(3), v.flatten(3)
        )
        out = out.view(v.shape).permute(0, 1, 3, 2, 4).reshape(batch, channels, frames, freqs)
        out = self.proj_norm(self.proj(out).transpose(1, 2)).transpose(1, 2)
        return x + out


class GridNetBlock(nn.Module):
    def __init__(self, config: Config, n_freqs: int) -> None:
        super().__init__()
        self.ks, self.hs = config.emb_ks, config.emb_hs
        self.intra = SequenceModule(config)  # along frequency
        self.inter = SequenceModule(config)  # along time
        self.attention = FullBandAttention(config, n_freqs)

    def _grid(self, n: int) -> int:
        """Smallest length >= n that the (emb_ks, emb_hs) unfold covers exactly."""
        return math.ceil(max(n - self.ks, 0) / self.hs) * self.hs + self.ks

    def forward(self, x: Tensor) -> Tensor:
        frames, freqs = x.shape[2:]
        x = F.pad(x, (0, self._grid(freqs) - freqs, 0, self._grid(frames) - frames))
        x = self.intra(x)
        x = self.inter(x.transpose(2, 3)).transpose(2, 3)
        return self.attention(x[..., :frames, :freqs])


class SPMamba(nn.Module):
    window: torch.Tensor  # a buffer, declared for the type checker

    def __init__(self, config: Config) -> None:
        super().__init__()
        if config.n_fft % 2:
            raise ValueError(f"n_fft must be even, got {config=}")
        self.config = config
        n_freqs = config.n_fft // 2 + 1
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        self.embed = nn.Sequential(
            nn.Conv2d(2, config.emb_dim, 3, padding=1), nn.GroupNorm(1, config.emb_dim, config.eps)
        )
        self.blocks = nn.ModuleList(GridNetBlock(config, n_freqs) for _ in range(config.n_layers))
        self.head = nn.ConvTranspose2d(config.emb_dim, 2 * config.n_src, 3, padding=1)

    def forward(self, mixture: Tensor) -> Tensor:
        """``mixture`` [B, T] -> estimates [B, n_src, T]."""
        batch, length = mixture.shape
        # Scale each mixture to unit std (and back at the end): the STFT features then have a
        # fixed range whatever the recording level. Population std (defined for one sample) and
        # an epsilon keep very short or silent inputs finite.
        std = mixture.std(dim=1, keepdim=True, correction=0).clamp_min(1e-8)
        # Reflect padding of the centred STFT needs more than n_fft / 2 samples.
        padded = max(length, self.config.n_fft)
        spec = self._stft(F.pad(mixture / std, (0, padded - length)))  # [B, F, T] complex
        x = torch.stack([spec.real, spec.imag], dim=1).transpose(2, 3)  # [B, 2, T, F]
        x = self.embed(x)
        for block in self.blocks:
            x = block(x)
        x = self.head(x).view(batch * self.config.n_src, 2, *x.shape[2:])
        est = torch.complex(x[:, 0], x[:, 1]).transpose(1, 2)  # [B * n_src, F, T]
        wav = self._istft(est, padded).view(batch, self.config.n_src, padded)
        return wav[..., :length] * std.unsqueeze(1)

    def _stft(self, wav: Tensor) -> Tensor:
        cfg = self.config
        return torch.stft(wav, cfg.n_fft, cfg.hop, window=self.window, return_complex=True)

    def _istft(self, spec: Tensor, length: int) -> Tensor:
        cfg = self.config
        return torch.istft(spec, cfg.n_fft, cfg.hop, window=self.window, length=length)


def build(config: Config) -> nn.Module:
    return SPMamba(config)
