"""Post-processing shared by every search: revert changes that validity does not need, then pull each
remaining change back toward the patient as far as validity allows.

Both passes work on many candidates at once: each round stacks the trials of every candidate into one batch,
so polishing ten candidates costs about as many forward passes as polishing one.
"""

from __future__ import annotations

import numpy as np

from cfx_desktop.core.tabular.counterfactuals.constraints import changed_mask
from cfx_desktop.core.tabular.counterfactuals.context import SearchContext
from cfx_desktop.core.tabular.schema import Kind

TIGHTEN_POINTS = 17


def greedy_revert(ctx: SearchContext, candidates: list[np.ndarray]) -> list[np.ndarray]:
    """Per candidate, repeatedly undo the single change whose reversal keeps the prediction valid and saves
    the most cost, until no single reversal is possible."""
    out = [np.array(v, dtype=np.float64) for v in candidates]
    active = list(range(len(out)))
    while active:
        trials, owners = [], []
        for i in active:
            for j in np.flatnonzero(changed_mask(ctx.x, out[i])):
                trial = out[i].copy()
                trial[j] = ctx.x[j]
                trials.append(trial)
                owners.append(i)
        if not trials:
            break
        ok = ctx.is_valid(ctx.proba(np.array(trials)))
        owners_arr = np.array(owners)
        still = []
        for i in active:
            options = [t for t, good, o in zip(trials, ok, owners_arr) if good and o == i]
            if options:
                base = ctx.cost(out[i])
                out[i] = max(options, key=lambda t: base - ctx.cost(t))
                still.append(i)
        active = still
    return out


def tighten(ctx: SearchContext, candidates: list[np.ndarray]) -> list[np.ndarray]:
    """For each changed ordered feature of each candidate, the smallest valid step toward the original value
    (features of one candidate in turn; candidates side by side in one batch)."""
    out = [np.array(v, dtype=np.float64) for v in candidates]
    ordered = np.array([f.kind not in (Kind.BINARY, Kind.CATEGORICAL) for f in ctx.schema.features]) & ~np.isnan(ctx.x)
    queues = [list(np.flatnonzero(changed_mask(ctx.x, v) & ordered)) for v in out]
    fractions = np.linspace(0.0, 1.0, TIGHTEN_POINTS)[1:]  # 0 would be "no change", tried by greedy_revert
    while any(queues):
        blocks, jobs = [], []
        for i, queue in enumerate(queues):
            if not queue:
                continue
            j = queue.pop(0)
            trials = np.repeat(out[i][None], len(fractions), axis=0)
            trials[:, j] = ctx.x[j] + fractions * (out[i][j] - ctx.x[j])
            blocks.append(ctx.snap(trials))
            jobs.append((i, j))
        stacked = np.concatenate(blocks)
        ok = ctx.is_valid(ctx.proba(stacked)).reshape(len(jobs), len(fractions))
        for (i, j), block, good in zip(jobs, blocks, ok):
            good = good & changed_mask(ctx.x[None], block)[:, j]
            if good.any():
                out[i] = block[int(np.argmax(good))]  # the first (smallest) valid fraction
    return out


def polish(ctx: SearchContext, candidates: list[np.ndarray]) -> list[np.ndarray]:
    if not candidates:
        return []
    return tighten(ctx, greedy_revert(ctx, [ctx.snap(v) for v in candidates]))
