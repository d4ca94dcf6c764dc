"""A user's own training script as a trainer, run the way ``wandb agent`` runs it.

* :mod:`~trainers.program.command` - the command line, macro for macro as W&B's agent;
* :mod:`~trainers.program.reports` - metrics from ``[rungs] {json}`` stdout lines or from an
  unmodified W&B script's ``wandb.log`` calls (through ``shim/sitecustomize.py``), and how they
  count as iterations;
* :mod:`~trainers.program.process` - the process group, its logs, stopping it, leftovers;
* :mod:`~trainers.program.failures` - failure reasons, out-of-memory included;
* :mod:`~trainers.program.trainer` - ``run_trial(request, reporter)``.
"""
