"""Sparse counterfactual search in the model's differentiable path.

Stages, cheapest first, all batched:
1. Exact single-feature line search: a forward-only grid from the patient to each edge of every free feature's
   box. If the best single change costs <= 2 (MAD-L1 + 1 per change), no change of two or more features can be
   cheaper, so the search stops here.
1b. Pair grid: a 6 x 6 forward-only grid over each pair of the four most influential free features (one batch).
   When it finds a valid pair, stage 2 is skipped (except for diverse sets, which want every candidate).
2. Projected gradient search (Wachter et al. 2017 style): minimise hinge(logit beyond the target) + lambda * MAD-
   weighted L1, with each row restricted to a feature subset (pairs and triples of the most influential free
   features, and all free features at three lambdas) -- the subsets are the sparsity term. Rows are optimised
   together as one batch; after every step they are projected back into the constraint box. Binary and integer
   values are rounded at the end and everything is re-verified.
3. A model-agnostic fallback, growing spheres (Laugel et al. 2018) on sparse random directions, for models
   without gradients or when stages 1-2 find nothing.
Every candidate then goes through the greedy revert + tighten pass (`refine.polish`).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import torch

from cfx_desktop.core.adam import Adam
from cfx_desktop.core.tabular.counterfactuals.constraints import changed_mask
from cfx_desktop.core.tabular.counterfactuals.context import SPARSITY_WEIGHT, SearchContext
from cfx_desktop.core.tabular.counterfactuals.methods import CounterfactualMethod, register
from cfx_desktop.core.tabular.counterfactuals.reference import Reference
from cfx_desktop.core.tabular.counterfactuals.refine import polish, tighten
from cfx_desktop.core.tabular.schema import Kind

LABEL = "sparse optimisation"
GRID = 24
STEPS = 60
MIN_STEPS = 8  # after this, stop as soon as enough rows have crossed
PLATEAU = 6  # steps without any row's hinge falling: projected onto the box, the search has nowhere left to go
HORIZON = 3 * PLATEAU  # stop when, at the pace of its last PLATEAU steps, the best row would still not cross
# within this many more (and, once some row has crossed, when no other row would). A search that finds its answer
# falls steeply (every first crossing on 320 heart-failure and heart-disease requests came by step 11, its pace at
# least 1/5 of its hinge per step); one that will not creeps on by under 1 % a step until STEPS. This halved the
# steps of the searches that found nothing and stopped none that would have found something
# (`tests/test_counterfactuals.py` checks the rule on trajectories logged from both kinds).
LEARNING_RATE = 0.4
POLISH_BEST = 4
HINGE_EPS = 0.05  # logit overshoot so that rounding does not undo the flip
LAMBDAS_FULL = (0.02, 0.1, 0.3)
LAMBDA_SUBSET = 0.05


def line_search(ctx: SearchContext) -> list[np.ndarray]:
    """Best valid single-feature change per free feature (smallest move along its grid)."""
    rows, owners = [], []
    fractions = np.linspace(1.0 / GRID, 1.0, GRID) ** 2  # dense near the patient, where the cheap answers are
    for j in ctx.free:
        feature = ctx.schema.features[j]
        if feature.kind in (Kind.BINARY, Kind.CATEGORICAL):
            values = [float(v) for v in np.arange(ctx.lo[j], ctx.hi[j] + 1) if v != ctx.x[j]]
        else:
            values = [ctx.x[j] + f * (edge - ctx.x[j]) for edge in (ctx.lo[j], ctx.hi[j]) if edge != ctx.x[j] for f in fractions]
        for value in values:
            row = ctx.x.copy()
            row[j] = value
            rows.append(row)
            owners.append(j)
    if not rows:
        return []
    rows_arr = ctx.snap(np.array(rows))
    owners_arr = np.array(owners)
    valid = ctx.is_valid(ctx.proba(rows_arr)) & changed_mask(ctx.x[None], rows_arr).any(axis=1)
    best = []
    for j in np.unique(owners_arr[valid]):
        options = rows_arr[valid & (owners_arr == j)]
        best.append(options[int(np.argmin(np.abs(options[:, j] - ctx.x[j])))])
    return tighten(ctx, best) if best else []


def _ranking(ctx: SearchContext) -> tuple[np.ndarray, list[int]]:
    """(box edge toward the target per feature, the five most influential free numeric features).

    Influence = |d logit / d x| * MAD where the box leaves room to move the useful way. One backward pass per
    request, shared by the pair grid and the gradient stage (kept in ``ctx.memo``)."""
    if "ranking" in ctx.memo:
        return ctx.memo["ranking"]
    x = torch.as_tensor(np.nan_to_num(ctx.x, nan=0.0)[None], dtype=torch.float32, device=ctx.model.device)
    x_nan = torch.as_tensor(ctx.x[None], dtype=torch.float32, device=ctx.model.device)
    x = torch.where(torch.isnan(x_nan), x_nan, x).requires_grad_(True)
    with torch.enable_grad():
        ctx.model.logits(x).sum().backward()
    grad = np.nan_to_num(x.grad.detach().cpu().numpy()[0]) * ctx.mad
    toward = grad * (-1.0 if ctx.desired == 0 else 1.0) > 0  # raising the value moves the logit the right way
    score = np.abs(grad) * np.where(toward, ctx.hi > ctx.x, ctx.lo < ctx.x)
    score[~np.isin(np.arange(len(score)), ctx.free)] = 0.0
    edge = np.where(toward, ctx.hi, ctx.lo)
    numeric = [j for j in ctx.free if ctx.schema.features[j].kind != Kind.CATEGORICAL]
    top = [int(j) for j in np.argsort(-score) if j in numeric and score[j] > 0][:5]
    ctx.memo["ranking"] = (edge, top)
    return edge, top


PAIR_GRID = 6
PAIR_FEATURES = 4
PAIR_POLISH = 2


def pair_grid(ctx: SearchContext) -> list[np.ndarray]:
    edge, top = _ranking(ctx)
    top = top[:PAIR_FEATURES]
    limit = ctx.constraints.max_changes or len(ctx.x)
    if len(top) < 2 or limit < 2:
        return []
    fractions = np.linspace(1.0 / PAIR_GRID, 1.0, PAIR_GRID) ** 2
    fa, fb = np.meshgrid(fractions, fractions, indexing="ij")
    blocks = []
    for a, b in combinations(top, 2):
        block = np.repeat(ctx.x[None], fa.size, axis=0)
        block[:, a] = ctx.x[a] + fa.ravel() * (edge[a] - ctx.x[a])
        block[:, b] = ctx.x[b] + fb.ravel() * (edge[b] - ctx.x[b])
        blocks.append(block)
    rows = ctx.snap(np.concatenate(blocks))
    hits = rows[ctx.is_valid(ctx.proba(rows)) & (changed_mask(ctx.x[None], rows).sum(axis=1) == 2)]
    if len(hits) == 0:
        return []
    hits = np.unique(hits, axis=0)
    return polish(ctx, sorted(hits, key=ctx.cost)[:PAIR_POLISH])


def _masks(ctx: SearchContext) -> tuple[np.ndarray, np.ndarray]:
    numeric_free = [j for j in ctx.free if ctx.schema.features[j].kind != Kind.CATEGORICAL]
    if not numeric_free:
        return np.zeros((0, len(ctx.x))), np.zeros(0)
    _, top = _ranking(ctx)
    limit = ctx.constraints.max_changes or len(ctx.x)
    subsets = [s for size in (2, 3) if size <= limit for s in combinations(top[: 5 if size == 2 else 4], size)]
    masks, lambdas = [], []
    for subset in subsets:
        m = np.zeros(len(ctx.x))
        m[list(subset)] = 1
        masks.append(m)
        lambdas.append(LAMBDA_SUBSET)
    full = np.zeros(len(ctx.x))
    full[numeric_free] = 1
    for lam in LAMBDAS_FULL:
        masks.append(full)
        lambdas.append(lam)
    return np.array(masks), np.array(lambdas)


def out_of_reach(history: list | np.ndarray, step: int) -> np.ndarray:
    """Whether a row, at the pace of its last `PLATEAU` steps, would not cross within `HORIZON` more: one answer
    for a history of floats (the best row), one per row for a history of arrays (each row's lowest hinge)."""
    h = np.asarray(history, dtype=np.float64)
    if step < max(MIN_STEPS, PLATEAU + 1):
        return np.zeros(h.shape[1:], dtype=bool)
    pace = (h[-1 - PLATEAU] - h[-1]) / PLATEAU
    return h[-1] > pace * HORIZON


def gradient_search(ctx: SearchContext, steps: int = STEPS) -> list[np.ndarray]:
    masks, lambdas = _masks(ctx)
    if len(masks) == 0:
        return []
    device = ctx.model.device
    B, F = masks.shape
    as_t = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
    x = as_t(np.repeat(ctx.x[None], B, axis=0))
    mad, mask, lam = as_t(ctx.mad), as_t(masks), as_t(lambdas)
    lo = as_t(np.where(np.isnan(ctx.lo), ctx.x, ctx.lo))
    hi = as_t(np.where(np.isnan(ctx.hi), ctx.x, ctx.hi))
    x_filled = torch.where(torch.isnan(x), lo.expand_as(x), x)
    sign = 1.0 if ctx.desired == 0 else -1.0
    u = torch.zeros(B, F, device=device, requires_grad=True)
    optimiser = Adam(u, lr=LEARNING_RATE)
    best = np.full((B, F), np.nan)
    reached = np.zeros(B, dtype=bool)
    lowest, stalled = np.full(B, np.inf), 0  # no row's hinge improving for PLATEAU steps: the box holds no answer
    row_hinges: list[np.ndarray] = []  # each row's lowest hinge after each step
    with torch.enable_grad():
        for step in range(steps):
            ctx.cancel.raise_if_cancelled()
            z = torch.where(torch.isnan(x), x, x_filled + u * mad * mask)
            logit = ctx.model.logits(z)
            hinge = torch.relu(sign * (logit - ctx.target_logit) + HINGE_EPS)
            loss = (hinge + lam * (u.abs() * mask).sum(dim=1)).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                projected = torch.minimum(torch.maximum(x_filled + u * mad * mask, lo), hi)
                u.copy_((projected - x_filled) / mad * mask)
                now = hinge.detach().cpu().numpy()
                stalled = 0 if (now < lowest - 1e-3).any() else stalled + 1
                lowest = np.minimum(lowest, now)
                row_hinges.append(lowest.copy())
                done = now == 0
                if done.any():
                    best[done] = z.detach().cpu().numpy()[done]
                    reached |= done
            if reached.all() or (step + 1 >= 2 * MIN_STEPS and reached.any()) or (step + 1 >= MIN_STEPS and reached.sum() >= POLISH_BEST):
                break
            if not reached.any() and (stalled >= PLATEAU or out_of_reach(np.min(row_hinges, axis=1), step + 1)):
                break
            if reached.any() and out_of_reach(row_hinges, step + 1)[~reached].all():
                break  # what crossed is all this batch will give: no other row is on pace to cross in time
    ctx.evaluations += B * (step + 1)
    rows = best[~np.isnan(best).all(axis=1)]
    rows = np.where(np.isnan(ctx.x)[None], ctx.x[None], rows)
    if len(rows) == 0:
        return []
    snapped = np.unique(ctx.snap(rows), axis=0)
    hits = snapped[ctx.is_valid(ctx.proba(snapped))]
    return polish(ctx, sorted(hits, key=ctx.cost)[:POLISH_BEST])


def growing_spheres(ctx: SearchContext, samples: int = 256, rounds: int = 14, seed: int = 0) -> list[np.ndarray]:
    """Forward-only search: sparse random directions at growing MAD radius until something flips."""
    free = ctx.free
    if len(free) == 0:
        return []
    rng = np.random.default_rng(seed)
    limit = min(len(free), ctx.constraints.max_changes or 3, 3)
    radius = 0.25
    span = np.nan_to_num((ctx.hi - ctx.lo) / ctx.mad)[free]
    reach = float(np.sort(span)[-limit:].sum()) if len(span) else 0.0  # the largest L1 radius the box allows
    for _ in range(rounds):
        if radius / 2 > max(reach, 1.0):  # every sample would be clipped back into the box already searched
            break
        rows = np.repeat(ctx.x[None], samples, axis=0)
        for r in range(samples):
            chosen = rng.choice(free, size=rng.integers(1, limit + 1), replace=False)
            step = rng.uniform(-1, 1, len(chosen))
            step = step / max(np.abs(step).sum(), 1e-9) * rng.uniform(radius / 2, radius)
            rows[r, chosen] = ctx.x[chosen] + step * ctx.mad[chosen]
            for j in chosen:
                if ctx.schema.features[j].kind == Kind.CATEGORICAL:
                    rows[r, j] = rng.integers(0, ctx.schema.features[j].n_levels)
        rows = ctx.snap(rows)
        valid = ctx.is_valid(ctx.proba(rows)) & changed_mask(ctx.x[None], rows).any(axis=1)
        if valid.any():
            hits = rows[valid]
            order = np.argsort([ctx.cost(h) for h in hits])[:8]
            return polish(ctx, [hits[i] for i in order])
        radius *= 1.6
    return []


def candidates(ctx: SearchContext, want: int = 1, exhaustive: bool = False, seed: int = 0, steps: int = STEPS) -> list[np.ndarray]:
    """All candidates the three stages produce, cheapest first (not yet constraint-checked by the engine)."""
    found = line_search(ctx)

    def settled(changes: int) -> bool:
        """True when nothing changing more than ``changes`` features can beat what was found."""
        costs = [ctx.cost(v) for v in found]
        return bool(costs) and min(costs) <= (changes + 1) * SPARSITY_WEIGHT and len(found) >= want and not exhaustive

    if ctx.model.differentiable and not settled(1):
        pairs = pair_grid(ctx)
        found += pairs
        if exhaustive or not pairs or not settled(2) and len(found) < want:
            found += gradient_search(ctx, steps)
    # the random fallback is for models without gradients; for the others, when the projected gradient search
    # finds nothing, the box holds no answer the sparse random directions could reach either (checked against a
    # brute-force grid on the heart-failure validation patients) and it would only cost time
    if not ctx.model.differentiable and (not found or (exhaustive and len(found) < want)):
        found += growing_spheres(ctx, seed=seed)
    return sorted(found, key=ctx.cost)


MIN_JACCARD = 0.5  # two options differ when at least half of the features either changes are not shared


def jaccard_distance(ctx: SearchContext, a: np.ndarray, b: np.ndarray) -> float:
    """1 - |A & B| / |A | B| of the features two counterfactuals change."""
    A, B = changed_mask(ctx.x, a), changed_mask(ctx.x, b)
    union = (A | B).sum()
    return float(1.0 - (A & B).sum() / union) if union else 0.0


def _leading(ctx: SearchContext, v: np.ndarray) -> int:
    """The feature that carries most of a counterfactual's cost (its largest move)."""
    changed = np.flatnonzero(changed_mask(ctx.x, v))
    costs = []
    for j in changed:
        alone = ctx.x.copy()
        alone[j] = v[j]
        costs.append(ctx.distance(alone))
    return int(changed[int(np.argmax(costs))])


def diverse_options(ctx: SearchContext, found: list[np.ndarray], k: int, seed: int = 0) -> list[np.ndarray]:
    """k options that change different features wherever the data allows (DiCE's aim, greedily): the cheapest;
    then the cheapest candidate whose changed features differ from every option so far (Jaccard distance >=
    `MIN_JACCARD`); when none does, a new search that may not use the features the options so far lean on.
    Fewer than k come back when no other way exists."""
    options = [found[0]]
    tried: set[frozenset[int]] = set()
    while len(options) < k:
        ctx.cancel.raise_if_cancelled()
        different = [v for v in found if all(jaccard_distance(ctx, v, o) >= MIN_JACCARD for o in options)]
        if different:
            options.append(min(different, key=ctx.cost))
            continue
        leading = frozenset(_leading(ctx, o) for o in options)
        used = frozenset(int(j) for o in options for j in np.flatnonzero(changed_mask(ctx.x, o)))
        fresh: list[np.ndarray] = []
        for excluded in (used, leading):  # first without every feature used so far, then without the leading ones
            if excluded in tried or not (set(ctx.free.tolist()) - excluded):
                continue
            tried.add(excluded)
            fresh = candidates(ctx.excluding(excluded), want=1, seed=seed, steps=STEPS // 3)  # a further option: a short search
            if fresh:
                break
        if not fresh:
            break
        found = found + fresh
        best = min(fresh, key=ctx.cost)
        if any(np.allclose(best, o, equal_nan=True) for o in options):
            break
        options.append(best)
    return options


def search(ctx: SearchContext, reference: Reference | None = None, k: int = 1, seed: int = 0) -> list[np.ndarray]:
    found = candidates(ctx, want=k, seed=seed)
    if k <= 1 or not found:
        return found
    return diverse_options(ctx, found, k, seed)


register(CounterfactualMethod("sparse", LABEL, search, "fewest, smallest changes"))
