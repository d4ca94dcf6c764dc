"""A training script as W&B users write them, swept by Rungs unchanged: ``rungs run sweep.yaml``.

It trains a tiny 1-D convolutional denoiser on synthetic tones in white noise (a stand-in for a
speech enhancement model) and reports the validation SI-SDR every epoch with ``wandb.log``.
Nothing in it knows about Rungs: the hyperparameters arrive as ``--name=value`` arguments and in
``wandb.config``, exactly as under ``wandb agent``, and so do the stage's training-set size, epoch
budget and seed (``program_parameters`` in sweep.yaml). Run it alone too:

    WANDB_MODE=offline python train.py --lr=0.003 --hidden=16 --batch_size=32 \\
        --train_samples=2000 --epochs=4 --seed=0
"""

from __future__ import annotations

import argparse
import math

import torch
import wandb
from torch import nn

LENGTH = 256  # samples per example
RATE = 8000  # Hz
VALID_SIZE = 400
VALID_SEED = 12345  # the validation set is the same for every trial


def tones_in_noise(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy, clean), each (count, 1, LENGTH): a random tone, 0 dB of white noise on top."""
    generator = torch.Generator().manual_seed(seed)
    times = torch.arange(LENGTH) / RATE
    frequency = 200 + 1800 * torch.rand(count, 1, generator=generator)
    phase = 2 * math.pi * torch.rand(count, 1, generator=generator)
    clean = torch.sin(2 * math.pi * frequency * times + phase)
    noisy = clean + torch.randn(count, LENGTH, generator=generator) * clean.std()
    return noisy.unsqueeze(1), clean.unsqueeze(1)


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Scale-invariant signal-to-distortion ratio in dB, one value per example."""
    scale = (estimate * reference).sum(-1, keepdim=True) / (reference.pow(2).sum(-1, keepdim=True))
    target = scale * reference
    noise = estimate - target
    return 10 * torch.log10(target.pow(2).sum(-1) / noise.pow(2).sum(-1).clamp_min(1e-8))


def denoiser(hidden: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv1d(1, hidden, 9, padding=4),
        nn.ReLU(),
        nn.Conv1d(hidden, hidden, 9, padding=4),
        nn.ReLU(),
        nn.Conv1d(hidden, 1, 9, padding=4),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--train_samples", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    run = wandb.init(config=vars(args))  # under Rungs (or wandb agent) the sweep's values win
    config = wandb.config
    torch.manual_seed(config.seed)
    noisy, clean = tones_in_noise(config.train_samples, seed=config.seed)
    valid_noisy, valid_clean = tones_in_noise(VALID_SIZE, seed=VALID_SEED)
    model = denoiser(config.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(len(noisy))
        for start in range(0, len(noisy), config.batch_size):
            batch = order[start : start + config.batch_size]
            loss = -si_sdr(model(noisy[batch]), clean[batch]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_si_sdr = si_sdr(model(valid_noisy), valid_clean).mean().item()
        print(f"epoch {epoch}: val_si_sdr {val_si_sdr:.2f} dB", flush=True)
        wandb.log({"val_si_sdr": val_si_sdr, "train_loss": loss.item(), "epoch": epoch})
    run.finish()


if __name__ == "__main__":
    main()
