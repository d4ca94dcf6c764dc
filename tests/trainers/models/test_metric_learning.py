"""AAM-softmax and the triplet losses: finite gradients at the edges, the mining rules, and the
n_per_speaker grouping that keeps labels aligned with embeddings (a researcher's VoxCeleb log
records 400 labels kept for 200 averaged embeddings)."""

import math

import pytest
import torch
import torch.nn.functional as F

from trainers.models.metric_learning import (
    LOSSES,
    AAMSoftmax,
    TripletLoss,
    batch_all,
    batch_hard,
    group_embeddings,
    make_loss,
    pairwise_distances,
    semi_hard,
)

torch.set_num_threads(1)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_aam_softmax_gradient_is_finite_at_cos_plus_minus_one(sign: float) -> None:
    loss_fn = AAMSoftmax(emb_dim=4, n_classes=3, margin=0.2, scale=30.0)
    with torch.no_grad():
        loss_fn.weight.copy_(torch.eye(3, 4))
    # embedding 0 lies exactly on (or opposite) its class centre: cos = +-1 exactly
    emb = (sign * torch.eye(3, 4)).clone().requires_grad_(True)
    cosine = F.linear(F.normalize(emb), F.normalize(loss_fn.weight))
    assert cosine.diagonal().abs().eq(1.0).all()
    loss = loss_fn(emb, torch.tensor([0, 1, 2]))
    loss.backward()
    assert math.isfinite(float(loss.detach()))
    assert torch.isfinite(emb.grad).all()
    assert torch.isfinite(loss_fn.weight.grad).all()


def test_aam_softmax_margin_penalises_the_true_class() -> None:
    loss_fn = AAMSoftmax(emb_dim=8, n_classes=5, margin=0.3, scale=10.0)
    emb, labels = torch.randn(6, 8), torch.tensor([0, 1, 2, 3, 4, 0])
    logits = loss_fn.logits(emb, labels)
    plain = 10.0 * F.linear(F.normalize(emb), F.normalize(loss_fn.weight))
    true = F.one_hot(labels, 5).bool()
    assert torch.all(logits[true] < plain[true])  # cos(theta + m) < cos(theta)
    assert torch.allclose(logits[~true], plain[~true], atol=1e-5)


def test_aam_softmax_rejects_labels_beyond_its_classes() -> None:
    with pytest.raises(ValueError, match="out of range for 3 classes"):
        AAMSoftmax(4, 3)(torch.randn(2, 4), torch.tensor([0, 3]))


def test_distance_gradient_is_finite_for_identical_embeddings() -> None:
    emb = torch.ones(4, 3, requires_grad=True)
    pairwise_distances(emb).sum().backward()
    assert torch.isfinite(emb.grad).all()


def two_clusters() -> tuple[torch.Tensor, torch.Tensor]:
    emb = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    return emb, torch.tensor([0, 0, 1, 1])


def test_triplet_losses_vanish_on_separated_clusters_and_not_on_swapped_ones() -> None:
    emb, labels = two_clusters()
    for name in ("batch_hard", "batch_all", "semi_hard"):
        loss = TripletLoss(name, margin=0.2)
        assert float(loss(emb, labels)) == pytest.approx(0.0, abs=1e-3), name
        assert float(loss(emb, torch.tensor([0, 1, 0, 1]))) > 0.15, name
    soft = TripletLoss("soft_margin", margin=0.0)
    assert float(soft(emb, labels)) < float(soft(emb, torch.tensor([0, 1, 0, 1])))


def test_batch_hard_picks_farthest_positive_and_closest_negative() -> None:
    emb = torch.tensor([[0.0], [1.0], [3.0], [1.5]])
    labels = torch.tensor([0, 0, 0, 1])
    # anchor 0: farthest positive 3.0, closest negative 1.5 -> 3.0 - 1.5 + 0.1 = 1.6
    # anchor 1: 2.0 - 0.5 + 0.1 = 1.6; anchor 2: 3.0 - 1.5 + 0.1 = 1.6; anchor 3 has no positive
    assert float(batch_hard(emb, labels, 0.1)) == pytest.approx(1.6, abs=1e-3)


def test_semi_hard_prefers_the_closest_negative_farther_than_the_positive() -> None:
    emb = torch.tensor([[0.0], [1.0], [1.2], [0.5]])
    labels = torch.tensor([0, 0, 1, 1])
    loss = semi_hard(emb, labels, margin=0.5)
    # pair (0,1): d_ap = 1, negatives at 1.2 (farther) and 0.5 -> semi-hard 1.2: 1 - 1.2 + 0.5 = 0.3
    dist = pairwise_distances(emb)
    assert float(dist[0, 1] - dist[0, 2] + 0.5) == pytest.approx(0.3, abs=1e-3)
    assert float(loss) > 0
    assert float(batch_all(emb, labels, 0.5)) > 0


def test_triplet_losses_without_positives_are_zero_but_attached() -> None:
    emb = torch.randn(3, 4, requires_grad=True)
    loss = batch_hard(emb, torch.tensor([0, 1, 2]), 0.5)
    loss.backward()
    assert float(loss.detach()) == 0.0 and emb.grad is not None


def test_group_embeddings_average_reduces_labels_with_the_embeddings() -> None:
    # 3 items x 2 utterances, item-major; the bug kept 6 labels for 3 averaged embeddings
    emb = torch.arange(12.0).reshape(6, 2)
    labels = torch.tensor([7, 3, 5])
    grouped, aligned = group_embeddings(emb, labels, 2, average=True)
    assert grouped.shape == (3, 2) and aligned.tolist() == [7, 3, 5]
    assert grouped[1].tolist() == [5.0, 6.0]  # mean of rows 2 and 3 (item 1's utterances)
    kept, repeated = group_embeddings(emb, labels, 2, average=False)
    assert kept.shape == (6, 2) and repeated.tolist() == [7, 7, 3, 3, 5, 5]


def test_group_embeddings_rejects_a_count_mismatch() -> None:
    with pytest.raises(ValueError, match="expected 3 items x n_per_speaker=2 = 6 embeddings"):
        group_embeddings(torch.randn(3, 2), torch.tensor([0, 1, 2]), 2, average=True)


def test_make_loss_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="valid: aamsoftmax, batch_hard"):
        make_loss("arcface", 4, 3, 0.2, 30.0, 0.5)
    assert set(LOSSES) == {"aamsoftmax", "batch_hard", "batch_all", "semi_hard", "soft_margin"}
