"""The held-out estimate of benchmarks/tune_retrieval.py."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from tune_retrieval import held_out_estimate  # noqa: E402


def test_a_setting_best_everywhere_is_always_chosen():
    per_query = {"good": np.array([0.9, 0.8, 1.0, 0.7]), "bad": np.array([0.1, 0.0, 0.2, 0.3])}
    average, lowest, highest = held_out_estimate(per_query, halvings=20)
    assert lowest >= 0.7 and highest <= 0.95
    assert average == pytest.approx(0.85, abs=0.05)


def test_choosing_on_half_the_queries_scores_below_the_best_in_hindsight():
    # "a" is best overall only through two queries: a half holding both picks it, and it then
    # scores 0 on the other half, where the steady "b" would have scored 0.4.
    per_query = {"a": np.array([1.0, 1.0, 0.0, 0.0]), "b": np.array([0.4, 0.4, 0.4, 0.4])}
    average, lowest, highest = held_out_estimate(per_query, halvings=50)
    assert average < per_query["a"].mean()
    assert lowest == 0.0 and highest == 0.5
