"""A training script as W&B users write them: argparse, wandb.init, wandb.config, wandb.log."""

import argparse

import toy
import wandb

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--width", type=int, required=True)
parser.add_argument("--train_samples", type=int, required=True)
parser.add_argument("--epochs", type=int, required=True)
parser.add_argument("--seed", type=int, required=True)
args = parser.parse_args()

run = wandb.init()
# wandb.config holds the trial's parameters, as under `wandb agent`
assert (wandb.config.lr, wandb.config.train_samples) == (args.lr, args.train_samples)
for epoch, value in toy.epochs(args.lr, args.width, args.train_samples, args.epochs):
    wandb.log({"train_loss": 1 / epoch})  # a report without the metric: not an iteration
    wandb.log({"val_score": value, "epoch": epoch})
run.finish()
toy.finished()
