"""The execution engine: runs a stored sweep's progressive pipeline on Ray Tune.

Entry points: :func:`orchestrator.runner.pipeline.run_sweep` and
:func:`orchestrator.runner.resume.resume_sweep`. Ray is imported only inside this package, so the
API and ``rungs --help`` never pay for it.
"""
