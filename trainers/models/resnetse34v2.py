"""ResNetSE34V2: the "H/ASP" speaker-embedding network of voxceleb_trainer (Chung et al.,
"In defence of metric learning for speaker recognition", Interspeech 2020;
github.com/clovaai/voxceleb_trainer ``models/ResNetSE34V2.py``).

waveform [B, T]
  -> pre-emphasis, log-mel filterbank (25 ms / 10 ms), instance norm per band   [B, 1, M, F]
  -> conv 3x3 (filters[0]) + ReLU + BN
  -> 4 stages of SE basic blocks (3, 4, 6, 3 blocks; the last three halve both axes)
  -> flatten channels x remaining mel bins                                        [B, C*M/8, F/8]
  -> ASP: attentive statistics pooling (attention-weighted mean and std over time)
  -> linear to the embedding                                                      [B, emb_dim]

A *thin* ResNet-34 (filters 32-64-128-256 instead of 64-512) whose blocks end in a
squeeze-and-excitation gate. Training adds a loss head (:mod:`trainers.models.metric_learning`):
AAM-softmax or a triplet loss, chosen by the ``loss`` hyperparameter;
``SpeakerNet.forward(wavs, labels)`` returns the loss, as voxceleb_trainer's ``SpeakerNet``
does, and ``forward(wavs)`` embeddings.

Parameter counts (``count_parameters(model.encoder)``): ``paper`` (64 mels, 512-d embedding)
has 8.03 M parameters (8,028,492); the voxceleb_trainer paper lists H/ASP at 8.0 M. ``tiny`` (8 kHz, 40
mels, filters 8-16-32-64, one block per stage, 128-d) has 0.18 M.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from trainers.models.features import LogMel
from trainers.models.metric_learning import LOSSES, averages_embeddings, group_embeddings, make_loss


@dataclass(frozen=True)
class Config:
    sample_rate: int = 16000  # must match the data
    n_mels: int = 64
    blocks: tuple[int, ...] = (3, 4, 6, 3)  # SE basic blocks per stage (ResNet-34)
    filters: tuple[int, ...] = (32, 64, 128, 256)  # thin ResNet: a quarter of ResNet-34's
    emb_dim: int = 512
    pooling: str = "asp"  # asp (attentive statistics) | sap (self-attentive average)
    attention_hidden: int = 128
    se_reduction: int = 8
    loss: str = "aamsoftmax"  # aamsoftmax | batch_hard | batch_all | semi_hard | soft_margin
    margin: float = 0.2  # AAM-softmax angular margin (radians)
    scale: float = 30.0  # AAM-softmax scale
    triplet_margin: float = 0.5  # on L2-normalised embeddings: where a researcher's notes settled
    n_classes: int = 5994  # AAM head size >= training speakers (VoxCeleb2 dev has 5994)
    n_per_speaker: int = (
        1  # utterances per speaker in a training item (voxceleb_trainer's nPerSpeaker)
    )
    max_test_pairs: int = 10000  # validation trials; a VoxCeleb log: 6.8 -> 4.2 min validation

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; valid: {', '.join(LOSSES)}")
        if self.pooling not in ("asp", "sap"):
            raise ValueError(f"unknown pooling {self.pooling!r}; valid: asp, sap")
        if len(self.blocks) != len(self.filters) or len(self.blocks) < 2:
            raise ValueError(
                f"blocks and filters need one entry per stage: {self.blocks=}, {self.filters=}"
            )
        if self.n_mels % 2 ** (len(self.filters) - 1):
            raise ValueError(
                f"n_mels must be divisible by {2 ** (len(self.filters) - 1)}, got {self.n_mels=}"
            )
        if not averages_embeddings(self.loss) and self.n_per_speaker < 2:
            raise ValueError(
                f"loss {self.loss!r} needs positives in the batch: n_per_speaker >= 2, got "
                f"{self.n_per_speaker=}"
            )


PRESETS: dict[str, Config] = {
    "paper": Config(),
    # 0.18 M parameters without the loss head: a few utterances per second on 2 CPU cores
    "tiny": Config(
        sample_rate=8000,
        n_mels=40,
        blocks=(1, 1, 1, 1),
        filters=(8, 16, 32, 64),
        emb_dim=128,
        attention_hidden=32,
        n_classes=600,  # the demo corpus has 581 training speakers (data seed 0)
        n_per_speaker=2,
        max_test_pairs=4000,
    ),
}


class SELayer(nn.Module):
    """Squeeze-and-excitation: a per-channel gate from the globally pooled activations."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.gate = nn.Sequential(
            nn.Linear(channels, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x.mean(dim=(2, 3)))[:, :, None, None]


class SEBasicBlock(nn.Module):
    """conv-ReLU-BN, conv-BN, SE gate, plus the (projected) input; voxceleb_trainer's order."""

    def __init__(self, c_in: int, c_out: int, stride: int, reduction: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(c_out),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(c_out),
            SELayer(c_out, reduction),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class AttentivePooling(nn.Module):
    """SAP: attention-weighted mean over time; ASP adds the weighted standard deviation."""

    def __init__(self, channels: int, hidden: int, statistics: bool) -> None:
        super().__init__()
        self.statistics = statistics
        self.attention = nn.Sequential(
            nn.Conv1d(channels, hidden, 1),
            nn.ReLU(),
            nn.BatchNorm1d(hidden),
            nn.Conv1d(hidden, channels, 1),
            nn.Softmax(dim=2),
        )

    def forward(self, x: Tensor) -> Tensor:
        w = self.attention(x)
        mean = torch.sum(x * w, dim=2)
        if not self.statistics:
            return mean
        # clamp before the sqrt: the weighted variance can round below 0 (NaN gradient otherwise)
        std = torch.sqrt((torch.sum(x * x * w, dim=2) - mean * mean).clamp(min=1e-5))
        return torch.cat([mean, std], dim=1)


class ResNetSE(nn.Module):
    """The embedding network: waveform ``[B, T]`` -> embedding ``[B, emb_dim]``."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.features = LogMel(config.sample_rate, config.n_mels)
        self.norm = nn.InstanceNorm1d(config.n_mels)
        f = config.filters
        self.stem = nn.Sequential(
            nn.Conv2d(1, f[0], 3, 1, 1), nn.ReLU(inplace=True), nn.BatchNorm2d(f[0])
        )
        stages, c_in = [], f[0]
        for i, (n_blocks, c_out) in enumerate(zip(config.blocks, f, strict=True)):
            for b in range(n_blocks):
                stride = 2 if i > 0 and b == 0 else 1
                stages.append(SEBasicBlock(c_in, c_out, stride, config.se_reduction))
                c_in = c_out
        self.trunk = nn.Sequential(*stages)
        channels = f[-1] * (config.n_mels // 2 ** (len(f) - 1))
        self.pool = AttentivePooling(channels, config.attention_hidden, config.pooling == "asp")
        self.fc = nn.Linear(channels * (2 if config.pooling == "asp" else 1), config.emb_dim)

    def forward(self, wav: Tensor) -> Tensor:
        x = self.norm(self.features(wav)).unsqueeze(1)  # [B, 1, M, F]
        x = self.trunk(self.stem(x))
        x = x.reshape(x.shape[0], -1, x.shape[-1])  # channels x mel bins, over time
        return self.fc(self.pool(x))


class SpeakerNet(nn.Module):
    """Embedding network plus its training loss (voxceleb_trainer's ``SpeakerNet``).

    ``wavs`` is ``[B, T]`` or ``[B, n, T]`` (``n`` utterances of one speaker per item).
    ``forward(wavs)`` -> embeddings ``[B, emb_dim]`` (averaged over ``n``);
    ``forward(wavs, labels)`` -> the scalar loss, with labels kept aligned to the embeddings.
    """

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.encoder = ResNetSE(config)
        self.loss = make_loss(
            config.loss,
            config.emb_dim,
            config.n_classes,
            config.margin,
            config.scale,
            config.triplet_margin,
        )

    def forward(self, wavs: Tensor, labels: Tensor | None = None) -> Tensor:
        n = wavs.shape[1] if wavs.dim() == 3 else 1
        embeddings = self.encoder(wavs.reshape(-1, wavs.shape[-1]))
        if labels is None:
            return embeddings.reshape(-1, n, embeddings.shape[-1]).mean(dim=1)
        grouped, aligned = group_embeddings(
            embeddings, labels, n, averages_embeddings(self.config.loss)
        )
        return self.loss(grouped.float(), aligned)


def build(config: Config) -> SpeakerNet:
    return SpeakerNet(config)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
