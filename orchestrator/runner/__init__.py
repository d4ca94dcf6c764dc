"""The execution engine: runs a stored sweep's progressive pipeline on Ray Tune.

Entry points: :func:`orchestrator.runner.pipeline.run_sweep` and
:func:`orchestrator.runner.pipeline.resume_sweep`. Ray is imported only inside this package, so
the API and ``rungs --help`` never pay for it.

One sweep, file by file, from ``rungs run sweep.yaml`` to the database and back:

1. ``orchestrator/cli/run_commands.py`` parses the YAML (:mod:`orchestrator.sweepfile`), stores
   the spec as JSON with ``storage.create_sweep`` and calls ``run_sweep``. A sweep submitted to
   the API is claimed by ``orchestrator/worker.py`` instead, which calls the same function.
2. ``pipeline.py`` rebuilds the :class:`~stages.spec.SweepSpec` from the stored JSON, makes the
   sweep folder and a :class:`~orchestrator.runner.jobs.SweepEnv`, marks the sweep running and
   walks the stages in order. For each search stage it derives the space (stored on a re-run,
   else narrowed from the source stage's trials by :mod:`stages.narrowing`), upserts the stage
   record and asks ``jobs.py`` for the stage's job.
3. ``jobs.py`` builds the :class:`~orchestrator.runner.jobs.StageJob`: ``history.py`` first
   reads the stage's stored trials (kept, replayed into the stopping rules, or queued to run
   again), then one proposer per variant (``proposers.py``: TPE, random or grid), the stage's
   Ray searcher (``searchers.py``: variants, keys, budgets), scheduler (``schedulers.py``: the
   stopping rules of :mod:`stages`) and recorder (``recorder.py``), and the trial context the
   trainable needs (``trainable.py``; W&B settings from ``wandb_logging.py``).
4. ``executor.py`` runs the job as one ``Tuner.fit()`` on a Ray started by ``ray_setup.py``:
   Ray asks the searcher for configs (tagged per ``tags.py``), starts ``trainable.train_fn`` for
   each, which calls :func:`trainers.run_trial` and forwards every epoch to ``tune.report``; the
   scheduler feeds every result to the variant's stopping rule; ``progress.py`` prints a line
   now and then; ``LeaseStopper`` stops the fit once the sweep's lease is lost (``heartbeat.py``:
   the sweep was cancelled, re-queued or taken over). ``simulated.py`` is the Ray-free
   executor with the same interface: it drives the same searcher, scheduler and recorder on a
   simulated clock (``simclock.py``) over the learning-curve trainers (``rungs run --simulate``,
   the whole-pipeline tests, the sample-efficiency benchmark).
5. ``recorder.py`` (a Ray callback) writes each trial, its epochs (batched result rows) and its
   final status with the stop reason to the database as they happen.
6. Back in ``pipeline.py`` the stage is marked completed with its summary; then ``handoff.py``
   selects the diverse top-k from the stored trials (:mod:`stages.selection`), writes the CSV,
   stores the picks in the ``select`` stage, runs validation (top-k x seeds) as one more job
   through steps 3-5, ranks it (:mod:`stages.statistics`) and stores the ranking in the
   ``validate`` stage. The sweep ends completed, failed, interrupted or cancelled
   (:class:`stages.states.SweepState`).

The API, dashboard, CLI and reports read only the database afterwards. A resume runs the same
path: every step first reads what the database holds and skips or continues from there.
"""
