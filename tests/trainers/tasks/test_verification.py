"""The verification task's metric: the equal error rate of trial scores."""

import numpy as np
import pytest

from trainers.tasks.verification import equal_error_rate


def test_equal_error_rate() -> None:
    assert equal_error_rate([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == 0.0
    assert equal_error_rate([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == 1.0
    # one target below one non-target out of 4 + 4: miss = false alarm = 1/4 at the crossing
    assert (
        equal_error_rate([0.9, 0.8, 0.7, 0.3, 0.6, 0.2, 0.1, 0.05], [1, 1, 1, 1, 0, 0, 0, 0])
        == 0.25
    )
    assert equal_error_rate([0.5] * 4, [1, 0, 1, 0]) == 0.5  # ties are never split
    rng = np.random.default_rng(0)
    random_eer = equal_error_rate(rng.normal(size=4000), rng.integers(0, 2, 4000))
    assert 0.45 < random_eer < 0.55
    with pytest.raises(ValueError, match="n_neg=0"):
        equal_error_rate([0.1, 0.2], [1, 1])
