"""Fine-tuning without the original loss: train a compressed model to reproduce the original model's outputs.

The samples fine-tune with their own task losses (samples/*/scripts/fine_tune_*.py); this is for users who have
inputs but not the training pipeline, and for the tests, which need a task-free loss on any fixture.
"""
import torch


def distill(student, teacher, batches, steps, learning_rate=1e-3, log=None):
    """Trains ``student`` (an ``OnnxModule``) for ``steps`` Adam steps so that its floating-point outputs match
    ``teacher``'s (mean squared error summed over outputs) on ``batches`` (a list of input tuples, cycled).
    Returns the loss before the first step and after the last."""
    teacher.eval()
    with torch.no_grad():
        targets = [teacher(*inputs) for inputs in batches]

    def loss_on(k):
        outputs = student(*batches[k])
        return sum(torch.nn.functional.mse_loss(o, t) for o, t in zip(outputs, targets[k]) if o.dtype.is_floating_point)

    student.train()
    optimizer = torch.optim.Adam(student.parameters(), lr=learning_rate)
    with torch.no_grad():
        first = sum(float(loss_on(k)) for k in range(len(batches))) / len(batches)
    for step in range(steps):
        optimizer.zero_grad()
        loss = loss_on(step % len(batches))
        loss.backward()
        optimizer.step()
        if log is not None:
            log(step, float(loss))
    student.eval()
    with torch.no_grad():
        last = sum(float(loss_on(k)) for k in range(len(batches))) / len(batches)
    return first, last
