"""The fine-tuning recipes' learning-rate schedule."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dirnet_torch import cosine_learning_rate  # noqa: E402


class CosineLearningRateTests(unittest.TestCase):
    def test_starts_at_the_base_rate_and_ends_at_the_floor(self):
        self.assertAlmostEqual(cosine_learning_rate(1e-3, 0, 100), 1e-3)
        self.assertAlmostEqual(cosine_learning_rate(1e-3, 100, 100), 5e-5)
        self.assertAlmostEqual(cosine_learning_rate(1e-3, 50, 100), 1e-3 * (0.05 + 0.95 * 0.5))

    def test_decreases_monotonically_and_stays_at_the_floor_past_the_end(self):
        rates = [cosine_learning_rate(2.0, step, 40, floor=0.1) for step in range(60)]
        self.assertTrue(all(a > b for a, b in zip(rates[:40], rates[1:41])))
        self.assertTrue(all(abs(rate - 0.2) < 1e-12 for rate in rates[40:]))


if __name__ == "__main__":
    unittest.main()
