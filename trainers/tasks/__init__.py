"""Tasks the shared loop can train: a registry of names (``ModelEntry.task``) to classes."""

from __future__ import annotations

from trainers.tasks.base import Task
from trainers.tasks.classification import ClassificationTask
from trainers.tasks.ctc import CTCTask
from trainers.tasks.separation import SeparationTask
from trainers.tasks.verification import VerificationTask

TASKS: dict[str, type[Task]] = {
    "separation": SeparationTask,
    "verification": VerificationTask,
    "ctc": CTCTask,
    "classification": ClassificationTask,
}


def get_task(name: str) -> Task:
    """A fresh task instance for ``name``; unknown names list the valid ones."""
    try:
        return TASKS[name]()
    except KeyError:
        valid = ", ".join(sorted(TASKS))
        raise KeyError(f"unknown task {name!r}; the shared loop trains: {valid}") from None


__all__ = [
    "TASKS",
    "CTCTask",
    "ClassificationTask",
    "SeparationTask",
    "Task",
    "VerificationTask",
    "get_task",
]
