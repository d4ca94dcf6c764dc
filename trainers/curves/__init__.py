"""Learning-curve trainers: closed-form functions of the hyperparameters that report a curve
epoch by epoch through the same ``run_trial`` contract as the neural models, in milliseconds.

``synthetic`` (tests and overhead benchmarks), ``sim_seed004`` (a DPRNN learning-curve
simulator, model name ``sim-seed004``) and ``mf_hartmann`` (the multi-fidelity Hartmann-6
function, model name ``mf-hartmann6``). They import neither torch nor the data layer.
"""
