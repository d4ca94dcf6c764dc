"""Sample-efficiency benchmark: does progressive data scaling find better configs per unit of
compute than a flat sweep, ASHA, Optuna or subset-hyperband? See ``benchmarks/sample_efficiency.py``
(entry point) and ``benchmarks/results/RESULTS_sample_efficiency.md`` (results)."""
