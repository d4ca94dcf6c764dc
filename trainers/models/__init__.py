"""The neural models the shared loop trains: one file per model, plus their building blocks.

Models (registered in :mod:`trainers.registry`): ``convtasnet``, ``dprnn``, ``sepformer`` and
``spmamba`` (separation), ``resnetse34v2`` (speaker verification), ``deepspeech2`` (CTC) and
``fastcnn`` (speaker classification). Building blocks that only models use: ``features``
(spectrogram, log-mel and MFCC front ends), ``metric_learning`` (speaker-embedding losses) and
``selective_scan`` (SPMamba's scan).

Nothing is imported here: the registry imports a model's module only when it trains.
"""
