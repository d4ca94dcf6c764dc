"""Learning-curve trainers: closed-form functions of the hyperparameters that report a curve
epoch by epoch through the same ``run_trial`` contract as the neural models, in milliseconds.

``synthetic`` (tests and overhead benchmarks), ``sim_seed004`` (a DPRNN learning-curve
simulator, model name ``sim-seed004``) and ``mf_hartmann`` (the multi-fidelity Hartmann-6
function, model name ``mf-hartmann6``). They import neither torch nor the data layer.

Only ``synthetic`` checkpoints (a JSON file of its epochs), so that tests can watch an interrupted
trial continue where it stopped. ``sim-seed004`` and ``mf-hartmann6`` write no checkpoint: a trial
takes milliseconds and its curve is a pure function of config, subset and seed, so a re-run
reports the same epochs again (and the orchestrator stores each epoch once).
"""
