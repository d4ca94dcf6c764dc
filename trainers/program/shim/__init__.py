"""The directory put first on a program's PYTHONPATH; see :mod:`trainers.program.reports`.

It holds one module, ``sitecustomize``, which Python imports at startup. It is a package only so
that it ships with Rungs; nothing imports it as ``trainers.program.shim``.
"""
