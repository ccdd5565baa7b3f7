"""Learning-rate schedule shared by the samples' fine-tuning recipes."""
import math


def cosine_learning_rate(base, step, steps, floor=0.05):
    """``base`` decayed along a half cosine from ``base`` at step 0 to ``floor x base`` at ``steps``.

    A short fine-tuning run starts from weights that are already close; a constant rate leaves them jittering around
    the optimum in the last epoch, and decaying it to (almost) zero lets them settle. The floor keeps the last steps
    learning something when a run is cut short of ``steps`` by a time limit."""
    progress = min(max(step / steps, 0.0), 1.0) if steps > 0 else 1.0
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))
