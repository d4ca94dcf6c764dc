"""The program the sweep-file tests name (``program: train.py``): a W&B sweep's script that
reports its metric as a ``[rungs]`` line. Parsing only checks that it exists."""

import argparse
import json

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=1e-3)
args, _ = parser.parse_known_args()
print("[rungs]", json.dumps({"val_si_sdr": -abs(args.lr - 1e-3)}), flush=True)
