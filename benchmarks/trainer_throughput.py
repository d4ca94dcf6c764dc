"""Training throughput of the separation models: ours against Asteroid, and every preset.

Two parts, one command each:

``compare`` - our ``paper`` ConvTasNet and DPRNN against Asteroid 0.7.0's ``ConvTasNet`` and
``DPRNNTasNet`` built with the same architecture (the parameter counts are printed and must be
equal). One training step = forward + PIT SI-SDR loss (ours, for both) + backward + Adam step.
Ours and Asteroid's steps alternate in one process (same input, same threads), so a machine
shared with other jobs slows both alike; the median step time of each gives samples/s and the
ratio ours/asteroid (target >= 1.0). Asteroid lives only in ``benchmarks/.venv-asteroid``
(created by ``benchmarks/setup_asteroid_env.sh``); this part re-runs itself in that venv.

``presets`` - samples/s and peak RSS of the ``tiny`` and ``paper`` preset of every separation
model in the registry, one subprocess per measurement so that each peak RSS is its own.

    .venv/bin/python benchmarks/trainer_throughput.py compare --steps 5
    .venv/bin/python benchmarks/trainer_throughput.py presets
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ASTEROID_VENV = ROOT / "benchmarks" / ".venv-asteroid"
SAMPLE_RATE = 8000
THREADS = 2


def _setup_torch() -> Any:
    import torch

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    return torch


def _stub_torchaudio() -> None:
    """Asteroid imports torch_stoi, which imports torchaudio at module level; torchaudio's C++
    extension does not load beside torch 2.13. Nothing we run touches it, so an empty package
    in ``sys.modules`` is enough for the import to succeed."""
    stub = types.ModuleType("torchaudio")
    stub.__path__ = []  # a package, so "from torchaudio import x" fails loudly if ever used
    sys.modules["torchaudio"] = stub


def _train_step(model: Any, optimizer: Any, mixture: Any, refs: Any) -> float:
    """One forward + loss + backward + Adam step; returns its wall time in seconds."""
    from trainers.losses import pit_si_sdr_loss

    start = time.perf_counter()
    est = model(mixture)
    loss, _ = pit_si_sdr_loss(est, refs)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start


def _batch(torch: Any, batch: int, seconds: float) -> tuple[Any, Any]:
    refs = torch.randn(batch, 2, int(seconds * SAMPLE_RATE))
    return refs.sum(1), refs


def _n_params(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


# --- compare: ours vs Asteroid ----------------------------------------------------------------


def _asteroid_pairs() -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """name -> (build ours, build Asteroid's) with the same architecture."""
    from asteroid.models import ConvTasNet, DPRNNTasNet

    from trainers.models import convtasnet, dprnn

    ctn = convtasnet.PRESETS["paper"]
    dp = dprnn.PRESETS["paper"]
    return {
        "convtasnet/paper": (
            lambda: convtasnet.build(ctn),
            lambda: ConvTasNet(
                n_src=ctn.n_src,
                n_filters=ctn.n_filters,
                kernel_size=ctn.kernel_size,
                stride=ctn.kernel_size // 2,
                bn_chan=ctn.bn_chan,
                hid_chan=ctn.hid_chan,
                skip_chan=ctn.skip_chan,
                conv_kernel_size=ctn.conv_kernel_size,
                n_blocks=ctn.n_blocks,
                n_repeats=ctn.n_repeats,
                mask_act=ctn.mask_act,
            ),
        ),
        "dprnn/paper": (
            lambda: dprnn.build(dp),
            lambda: DPRNNTasNet(
                n_src=dp.n_src,
                n_filters=dp.n_filters,
                kernel_size=dp.kernel_size,
                stride=dp.kernel_size // 2,
                bn_chan=dp.bottleneck,
                hid_size=dp.hidden,
                chunk_size=dp.chunk_size,
                hop_size=dp.chunk_size // 2,
                n_repeats=dp.layers,
                bidirectional=dp.bidirectional,
                mask_act=dp.mask_act,
                rnn_type="LSTM",
                encoder_activation="relu",
            ),
        ),
    }


def compare(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Alternate ours/Asteroid's training steps; medians -> samples/s and the ratio."""
    _stub_torchaudio()
    torch = _setup_torch()
    mixture, refs = _batch(torch, args.batch, args.seconds)
    rows = []
    for name, (build_ours, build_theirs) in _asteroid_pairs().items():
        models = {"ours": build_ours(), "asteroid": build_theirs()}
        optims = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, m in models.items()}
        times: dict[str, list[float]] = {"ours": [], "asteroid": []}
        for step in range(args.warmup + args.steps):
            # Alternate who goes first so that neither always runs right after the other.
            order = ["ours", "asteroid"] if step % 2 == 0 else ["asteroid", "ours"]
            for who in order:
                seconds = _train_step(models[who], optims[who], mixture, refs)
                if step >= args.warmup:
                    times[who].append(seconds)
        med = {who: statistics.median(t) for who, t in times.items()}
        rows.append(
            {
                "model": name,
                "params_ours": _n_params(models["ours"]),
                "params_asteroid": _n_params(models["asteroid"]),
                "ours_samples_s": args.batch / med["ours"],
                "asteroid_samples_s": args.batch / med["asteroid"],
                "ratio": med["asteroid"] / med["ours"],
                "steps": args.steps,
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def print_compare(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\ntraining step (fwd + PIT SI-SDR + bwd + Adam), batch {args.batch} x {args.seconds} s "
        f"at {SAMPLE_RATE} Hz, torch.set_num_threads({THREADS}), median of {args.steps} steps "
        f"after {args.warmup} warm-up, alternating\n"
    )
    print(
        "| model | params ours | params asteroid | ours samples/s | asteroid samples/s | ours/asteroid |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['model']} | {r['params_ours']:,} | {r['params_asteroid']:,} | "
            f"{r['ours_samples_s']:.2f} | {r['asteroid_samples_s']:.2f} | {r['ratio']:.2f} |"
        )


# --- presets: every separation model, one subprocess per measurement --------------------------


def measure_one(
    model: str, preset: str, batch: int, seconds: float, steps: int, warmup: int
) -> dict[str, Any]:
    """Runs in its own process: ``warmup`` + ``steps`` timed steps; peak RSS of the process."""
    torch = _setup_torch()
    from trainers.registry import load_model_module

    module = load_model_module(model)
    net = module.build(module.PRESETS[preset])
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    mixture, refs = _batch(torch, batch, seconds)
    for _ in range(warmup):
        _train_step(net, optimizer, mixture, refs)
    times = [_train_step(net, optimizer, mixture, refs) for _ in range(steps)]
    return {
        "model": model,
        "preset": preset,
        "params": _n_params(net),
        "batch": batch,
        "seconds": seconds,
        "samples_s": batch / statistics.median(times),
        "steps": steps,
        "warmup": warmup,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def separation_models() -> list[str]:
    from trainers.registry import MODELS

    return [name for name, entry in MODELS.items() if entry.task == "separation"]


def presets(args: argparse.Namespace) -> list[dict[str, Any]]:
    # (batch, seconds, warm-up steps, timed steps): a paper step on the CPU takes from seconds
    # to minutes, so by default it is timed once, without warm-up.
    plan = {
        "tiny": (args.tiny_batch, args.tiny_seconds, 1, args.tiny_steps),
        "paper": (args.paper_batch, args.paper_seconds, args.paper_warmup, args.paper_steps),
    }
    rows = []
    for model in args.models or separation_models():
        for preset in args.presets:
            batch, seconds, warmup, steps = plan[preset]
            cmd = [
                sys.executable,
                __file__,
                "one",
                model,
                preset,
                "--batch",
                str(batch),
                "--seconds",
                str(seconds),
                "--steps",
                str(steps),
                "--warmup",
                str(warmup),
            ]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=_env())
            if done.returncode != 0:
                raise RuntimeError(f"{model}/{preset} failed:\n{done.stderr[-3000:]}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def print_presets(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\ntraining samples/s and peak RSS per preset (one subprocess each, "
        f"torch.set_num_threads({THREADS}), median of the timed steps)\n"
    )
    print(
        "| model | preset | params | batch x seconds | warm-up + timed steps | samples/s | peak RSS GiB |"
    )
    print("| --- | --- | ---: | --- | --- | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['model']} | {r['preset']} | {r['params']:,} | {r['batch']} x {r['seconds']} s | "
            f"{r['warmup']} + {r['steps']} | "
            f"{r['samples_s']:.2f} | {r['peak_rss_gib']:.2f} |"
        )


# --- entry point ------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS))
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return env


def _in_asteroid_venv() -> bool:
    return Path(sys.prefix).resolve() == ASTEROID_VENV.resolve()


def _reexec_in_asteroid_venv() -> int:
    """Create the Asteroid venv if needed and run this same command inside it."""
    subprocess.run(["bash", str(ROOT / "benchmarks" / "setup_asteroid_env.sh")], check=True)
    python = ASTEROID_VENV / "bin" / "python"
    return subprocess.run([str(python), __file__, *sys.argv[1:]], cwd=ROOT, env=_env()).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmp_ = sub.add_parser("compare", help="ours vs Asteroid (runs in benchmarks/.venv-asteroid)")
    cmp_.add_argument("--batch", type=int, default=2)
    cmp_.add_argument("--seconds", type=float, default=1.0)
    cmp_.add_argument("--warmup", type=int, default=1)
    cmp_.add_argument("--steps", type=int, default=5)
    pre = sub.add_parser("presets", help="every tiny and paper preset, one subprocess each")
    pre.add_argument("--models", nargs="*", help="default: every separation model")
    pre.add_argument("--presets", nargs="+", choices=["tiny", "paper"], default=["tiny", "paper"])
    pre.add_argument("--tiny-batch", type=int, default=2)
    pre.add_argument("--tiny-seconds", type=float, default=2.0)
    pre.add_argument("--paper-batch", type=int, default=1)
    pre.add_argument("--paper-seconds", type=float, default=1.0)
    pre.add_argument("--tiny-steps", type=int, default=3)
    pre.add_argument("--paper-warmup", type=int, default=0)
    pre.add_argument("--paper-steps", type=int, default=1)
    one = sub.add_parser("one", help="(internal) one measurement, JSON on stdout")
    one.add_argument("model")
    one.add_argument("preset")
    one.add_argument("--batch", type=int, required=True)
    one.add_argument("--seconds", type=float, required=True)
    one.add_argument("--steps", type=int, required=True)
    one.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()

    if args.command == "one":
        print(
            json.dumps(
                measure_one(
                    args.model, args.preset, args.batch, args.seconds, args.steps, args.warmup
                )
            )
        )
    elif args.command == "compare":
        if not _in_asteroid_venv():
            return _reexec_in_asteroid_venv()
        print_compare(compare(args), args)
    else:
        print_presets(presets(args), args)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
