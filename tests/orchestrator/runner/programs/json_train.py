"""A training script without W&B: one ``[rungs] {json}`` line on stdout per report."""

import argparse
import json

import toy

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--width", type=int, required=True)
parser.add_argument("--train_samples", type=int, required=True)
parser.add_argument("--epochs", type=int, required=True)
parser.add_argument("--seed", type=int, required=True)
args = parser.parse_args()

for epoch, value in toy.epochs(args.lr, args.width, args.train_samples, args.epochs):
    print(f"epoch {epoch}: training...")  # ordinary output is only logged
    print("[rungs]", json.dumps({"val_score": value, "train_loss": 1 / epoch}), flush=True)
toy.finished()
