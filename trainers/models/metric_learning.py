"""Speaker-embedding losses: AAM-softmax and the triplet family, plus per-speaker grouping.

* :class:`AAMSoftmax` - additive angular margin softmax (ArcFace; Deng et al. 2019), as in
  voxceleb_trainer's ``loss/aamsoftmax.py``: ``s * cos(theta_y + m)`` for the true class. The
  sine is ``sqrt(1 - cos^2 + eps)``: with the eps *inside* the root, ``|cos| = 1`` (an embedding
  exactly on its class centre) gives a finite gradient instead of ``1 / sqrt(0)``.
* Triplet losses on L2-normalised embeddings (Hermans et al. 2017, "In Defense of the Triplet
  Loss"; Schroff et al. 2015, FaceNet), the variants a researcher's speaker-recognition notes
  compare: ``batch_hard``, ``batch_all``, ``semi_hard`` and ``soft_margin`` (batch-hard with
  softplus instead of a margin).
* :func:`group_embeddings` - when ``n`` utterances per speaker are averaged into one embedding,
  the labels are reduced with them (one label per group), and when they are kept apart every
  label is repeated ``n`` times, so embeddings and labels always have the same length. (A
  researcher's VoxCeleb log records a SpeakerNet that, with ``nPerSpeaker=2``, averaged 400
  embeddings to 200 but kept all 400 labels, and training accuracy read 0.00%.)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SQRT_EPS = 1e-6  # inside every sqrt: the derivative 1 / (2 sqrt(x)) stays finite at x = 0


def group_embeddings(
    embeddings: Tensor, labels: Tensor, n_per_speaker: int, average: bool
) -> tuple[Tensor, Tensor]:
    """Embeddings ``[B * n, D]`` (item-major: rows ``i*n .. i*n+n-1`` are item ``i``'s
    utterances) and item labels ``[B]`` -> aligned ``(embeddings, labels)``: ``[B, D], [B]``
    when averaging, else ``[B * n, D], [B * n]``."""
    if embeddings.shape[0] != labels.shape[0] * n_per_speaker:
        raise ValueError(
            f"expected {labels.shape[0]} items x {n_per_speaker=} = "
            f"{labels.shape[0] * n_per_speaker} embeddings, but got {embeddings.shape[0]}"
        )
    if average:
        grouped = embeddings.reshape(labels.shape[0], n_per_speaker, -1).mean(dim=1)
        return grouped, labels
    return embeddings, labels.repeat_interleave(n_per_speaker)


class AAMSoftmax(nn.Module):
    """Additive angular margin softmax over ``n_classes`` learned class centres."""

    def __init__(self, emb_dim: int, n_classes: int, margin: float = 0.2, scale: float = 30.0):
        super().__init__()
        if not 0 <= margin < math.pi / 2:
            raise ValueError(f"margin must be within [0, pi/2), but got {margin=}")
        self.weight = nn.Parameter(torch.empty(n_classes, emb_dim))
        nn.init.xavier_normal_(self.weight, gain=1)
        self.margin, self.scale = margin, scale
        self.cos_m, self.sin_m = math.cos(margin), math.sin(margin)
        # beyond theta = pi - m, cos(theta + m) is no longer decreasing: use CosFace's penalty
        self.threshold = math.cos(math.pi - margin)
        self.penalty = math.sin(math.pi - margin) * margin

    def logits(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        cosine = F.linear(F.normalize(embeddings.float()), F.normalize(self.weight.float()))
        cosine = cosine.clamp(-1.0, 1.0)
        sine = torch.sqrt(1.0 - cosine * cosine + SQRT_EPS)  # eps inside: finite at |cos| = 1
        phi = cosine * self.cos_m - sine * self.sin_m  # cos(theta + m)
        phi = torch.where(cosine > self.threshold, phi, cosine - self.penalty)
        target = F.one_hot(labels, cosine.shape[1]).bool()
        return self.scale * torch.where(target, phi, cosine)

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        if labels.numel() and int(labels.max()) >= self.weight.shape[0]:
            raise ValueError(
                f"label {int(labels.max())} is out of range for {self.weight.shape[0]} classes"
            )
        return F.cross_entropy(self.logits(embeddings, labels), labels)


def pairwise_distances(embeddings: Tensor) -> Tensor:
    """Euclidean distances ``[N, N]`` with the eps inside the sqrt (finite gradient at 0)."""
    squared = embeddings.square().sum(1)
    d2 = squared[:, None] + squared[None, :] - 2.0 * embeddings @ embeddings.T
    return torch.sqrt(d2.clamp(min=0.0) + SQRT_EPS)


def _masks(labels: Tensor) -> tuple[Tensor, Tensor]:
    """(positive mask without the diagonal, negative mask) ``[N, N]``."""
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def _zero(embeddings: Tensor) -> Tensor:
    """A zero loss still attached to the graph (a batch without any valid triplet)."""
    return embeddings.sum() * 0.0


def batch_hard(embeddings: Tensor, labels: Tensor, margin: float, soft: bool = False) -> Tensor:
    """Per anchor: the farthest positive against the closest negative."""
    dist = pairwise_distances(embeddings)
    pos, neg = _masks(labels)
    valid = pos.any(1) & neg.any(1)
    if not valid.any():
        return _zero(embeddings)
    hardest_pos = torch.where(pos, dist, torch.zeros_like(dist)).amax(1)
    hardest_neg = torch.where(neg, dist, torch.full_like(dist, math.inf)).amin(1)
    gap = (hardest_pos - hardest_neg)[valid]
    return F.softplus(gap).mean() if soft else F.relu(gap + margin).mean()


def batch_all(embeddings: Tensor, labels: Tensor, margin: float) -> Tensor:
    """Every valid (anchor, positive, negative); the mean over the triplets that still violate
    the margin (averaging over the easy zeros would shrink the loss as training succeeds)."""
    dist = pairwise_distances(embeddings)
    pos, neg = _masks(labels)
    triplets = pos[:, :, None] & neg[:, None, :]
    losses = F.relu(dist[:, :, None] - dist[:, None, :] + margin)[triplets]
    active = losses > 1e-12
    if not active.any():
        return _zero(embeddings)
    return losses[active].mean()


def semi_hard(embeddings: Tensor, labels: Tensor, margin: float) -> Tensor:
    """FaceNet's semi-hard mining: per (anchor, positive), the closest negative that is farther
    than the positive; when none is, the farthest negative (as TensorFlow Addons does)."""
    dist = pairwise_distances(embeddings)
    pos, neg = _masks(labels)
    if not (pos.any() and neg.any()):
        return _zero(embeddings)
    d_ap = dist[:, :, None]  # [A, P, 1]
    d_an = dist[:, None, :]  # [A, 1, N]
    farther = neg[:, None, :] & (d_an > d_ap)
    outside = torch.where(farther, d_an, torch.full_like(d_an.expand_as(farther), math.inf))
    closest_farther = outside.amin(2)
    farthest = torch.where(neg, dist, torch.full_like(dist, -math.inf)).amax(1, keepdim=True)
    chosen = torch.where(farther.any(2), closest_farther, farthest.expand_as(closest_farther))
    valid = pos & neg.any(1, keepdim=True)
    return F.relu(dist - chosen + margin)[valid].mean()


TRIPLET_LOSSES: dict[str, Callable[[Tensor, Tensor, float], Tensor]] = {
    "batch_hard": batch_hard,
    "batch_all": batch_all,
    "semi_hard": semi_hard,
    "soft_margin": lambda e, y, m: batch_hard(e, y, m, soft=True),
}
LOSSES = ("aamsoftmax", *TRIPLET_LOSSES)


class TripletLoss(nn.Module):
    """A triplet loss by name on L2-normalised embeddings (distances then lie in [0, 2])."""

    def __init__(self, kind: str, margin: float) -> None:
        super().__init__()
        if kind not in TRIPLET_LOSSES:
            raise ValueError(f"unknown triplet loss {kind!r}; valid: {sorted(TRIPLET_LOSSES)}")
        self.kind, self.margin = kind, margin

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        return TRIPLET_LOSSES[self.kind](F.normalize(embeddings.float()), labels, self.margin)


def make_loss(
    name: str, emb_dim: int, n_classes: int, margin: float, scale: float, triplet_margin: float
) -> nn.Module:
    """The loss named ``name`` (one of :data:`LOSSES`); it may own parameters (AAM's centres)."""
    if name == "aamsoftmax":
        return AAMSoftmax(emb_dim, n_classes, margin, scale)
    if name in TRIPLET_LOSSES:
        return TripletLoss(name, triplet_margin)
    raise ValueError(f"unknown loss {name!r}; valid: {', '.join(LOSSES)}")


def averages_embeddings(loss_name: str) -> bool:
    """Classification losses see one averaged embedding per item (voxceleb_trainer's nPerSpeaker);
    triplet losses need the individual utterances as positives of each other."""
    return loss_name == "aamsoftmax"
