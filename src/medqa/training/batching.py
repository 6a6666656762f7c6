"""Deterministic, length-grouped batch plans.

Rows are shuffled with the run's seed, cut into mega-batches, sorted by length inside each mega-batch and then
split into batches, so a batch holds rows of similar length (little padding) while the order stays random.
The plan for step k is a pure function of (seed, lengths, k): a resumed run continues at the same row.
"""

from __future__ import annotations

import random

MEGA_BATCH = 16  # batches per sorted group: larger wastes less padding, smaller keeps the order more random


def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    rng = random.Random(f"{seed}:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    group = batch_size * MEGA_BATCH
    batches: list[list[int]] = []
    for start in range(0, len(order), group):
        chunk = sorted(order[start:start + group], key=lambda i: lengths[i], reverse=True)
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def batch_plan(lengths: list[int], batch_size: int, seed: int, n_batches: int) -> list[list[int]]:
    """The first `n_batches` batches, running over as many epochs as needed."""
    plan: list[list[int]] = []
    epoch = 0
    while len(plan) < n_batches:
        plan += epoch_batches(lengths, batch_size, seed, epoch)
        epoch += 1
    return plan[:n_batches]
