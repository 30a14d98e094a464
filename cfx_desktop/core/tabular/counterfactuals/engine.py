"""`find_counterfactuals()`: one entry point for every registered method, the hard constraint check, and the reason when none exists."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken
from cfx_desktop.core.tabular.counterfactuals import metrics
from cfx_desktop.core.tabular.counterfactuals.constraints import Constraints, changed_mask
from cfx_desktop.core.tabular.counterfactuals.consensus import ConsensusModel, partial_quorum, robustness_of
from cfx_desktop.core.tabular.counterfactuals.context import SearchContext
from cfx_desktop.core.tabular.counterfactuals.feasibility import Population
from cfx_desktop.core.tabular.counterfactuals.methods import METHODS
from cfx_desktop.core.tabular.counterfactuals.reference import NoReferenceError, Reference
from cfx_desktop.core.tabular.counterfactuals.types import Counterfactual, CounterfactualList
from cfx_desktop.core.tabular.model_set import ModelSet
from cfx_desktop.core.tabular.models.base import TabularModel
from cfx_desktop.core.tabular.schema import Actionability, Direction, Mutability

def find_counterfactuals(
    model: TabularModel,
    x: np.ndarray,
    constraints: Constraints | None = None,
    k: int = 1,
    method: str | None = None,
    reference: Reference | None = None,
    cancel: CancelToken = NEVER_CANCELLED,
    seed: int = 0,
    diagnose_empty: bool = True,
    model_set: ModelSet | None = None,
    consensus: bool = True,
    judges: ModelSet | None = None,
    partial: bool = True,
    without_margin: bool = True,
) -> CounterfactualList:
    """Counterfactuals for patient ``x`` (raw values, schema order). Each returned one satisfies every constraint
    and is predicted as the other class with the required margin; when there is none, ``reason`` says why.

    With a ``model_set`` and ``consensus``, "predicted as the other class with the margin" must hold for every
    member (each at its own threshold). Each result reports its robustness against ``judges`` (default: the
    model set), which may hold models the search never used.

    When no point moves every member, and ``partial``, a second search asks for a quorum (`partial_quorum`: 3 of
    4) that includes the selected model; what it finds carries ``quorum`` and the list's note says so, so that a
    reader never takes it for a suggestion the whole set agrees on. Where the full consensus is empty, it is
    because no feasible change moves every member with the margin, not because the search missed one (for the
    MLP's heart-failure validation patients it left empty, 20,000 random feasible points each found none either),
    so a second tier is the only way to offer those patients more than "this model only". When the quorum finds
    nothing with the margin either, the last searches ask for the thresholds themselves: those suggestions carry
    ``without_margin`` and the note calls them fragile (see `_fallback_tiers`); ``without_margin=False`` leaves
    them out (the default before them, for comparison)."""
    start = time.perf_counter()
    constraints = constraints or Constraints()
    method = method or METHODS.default
    spec = METHODS.get(method)
    x = np.asarray(x, dtype=np.float64)
    desired = 0 if float(model.predict_proba(x[None])[0]) >= model.threshold else 1
    if desired == 1:  # a risk what-if: deterioration runs against the treatment directions
        constraints = constraints.for_risk(model.schema)
    members = [] if model_set is None else model_set.members if any(m is model for m in model_set.members) else [model, *model_set.members]
    search_model, search_constraints = model, constraints
    if members and consensus:
        search_model, search_constraints = ConsensusModel(members, model, desired, constraints.margin), replace(constraints, margin=0.0)
    # a baseline shown for comparison keeps its one search: a second tier would make it something else
    tiered = bool(members) and consensus and partial and not spec.ignores_constraints
    quorum = partial_quorum(len(members)) if tiered else None
    try:
        ctx = SearchContext.build(search_model, x, search_constraints, reference, cancel)
        accepted, rejected = _search(ctx, spec, constraints, reference, k, seed)
        planned = [(q, m) for q, m in _fallback_tiers(quorum, constraints.margin, tiered)
                   if without_margin or m == constraints.margin]
        checked = False
        for tier_quorum, tier_margin in planned:
            if accepted:
                break
            cancel.raise_if_cancelled()
            if tier_margin < constraints.margin and not checked:  # before the tiers without the margin, once
                checked = True
                if not _reachable(ctx.judged_by(model), spec, constraints, reference, seed):
                    break  # not even the selected model alone reaches its threshold, which each of them asks of it
            ctx = ctx.judged_by(ConsensusModel(members, model, desired, tier_margin, quorum=tier_quorum))
            accepted, _ = _search(ctx, spec, constraints, reference, k, seed)
            for cf in accepted:
                cf.quorum = (tier_quorum, len(members)) if tier_quorum is not None else None
                cf.without_margin = tier_margin < constraints.margin
    except NoReferenceError as exc:
        return CounterfactualList([], str(exc), time.perf_counter() - start)
    returned = np.array([c.values for c in accepted])
    if accepted and search_model is not model:  # the selected model's probabilities, for display
        for cf, p in zip(accepted, model.predict_proba(returned)):
            cf.probability = float(p)
    jury = judges.members if judges is not None else members
    if accepted and jury:
        for cf, r in zip(accepted, robustness_of(returned, model, jury, desired, seed)):
            cf.robustness = r
    reason, notes = None, []
    result = CounterfactualList(accepted)
    if result.without_margin:
        moved = f"{quorum} of the {len(members)}" if result.quorum is not None else f"all {len(members)}"
        weakest = f"{quorum} of the {len(members)}" if quorum is not None else f"all {len(members)}"
        notes.append(f"no suggestion moves {weakest} models of the consensus set with a margin of "
                     f"{constraints.margin:.2f}: these only reach {moved} models' thresholds, without the margin "
                     "(fragile: a re-measurement or a slightly different model may turn the prediction back)")
    elif result.quorum is not None:
        notes.append(f"no suggestion moves all {len(members)} models of the consensus set with a margin of "
                     f"{constraints.margin:.2f} (partial-agreement tier: {quorum} of the {len(members)}, the selected "
                     "model among them)")
    if accepted and k > 1 and spec.uses_k and result.distinct_sets < k:
        agreement = " with the same agreement" if members and consensus else ""  # a weaker tier may hold others
        notes.append(f"only {result.distinct_sets} distinct option{'s' if result.distinct_sets > 1 else ''} of the {k} "
                     "asked for: no other set of features that may change, within the feasible range, flips the "
                     f"prediction{agreement}")
    note = "; ".join(notes) or None
    if not accepted:
        if rejected and spec.ignores_constraints:  # a faithful baseline: say what it broke
            reason = f"{spec.label} proposed only inadmissible changes ({rejected[0]}); not shown"
        elif diagnose_empty:
            reason = diagnose(model, ctx.x, constraints, reference, cancel, model_set if consensus else None,
                              tried=_tried_words(planned, len(members)))
        else:
            reason = "no counterfactual found"
    elif spec.is_set:
        score = metrics.diversity(ctx, [c.values for c in accepted])
        for cf in accepted:
            cf.metrics["set_diversity"] = score
    return CounterfactualList(accepted, reason, time.perf_counter() - start, note)


def _fallback_tiers(quorum: int | None, margin: float, tiered: bool) -> list[tuple[int | None, float]]:
    """The searches after the full consensus with the margin, in order, each as (quorum, margin; None: every
    member): a quorum of the set with the margin (`partial_quorum`), then the thresholds themselves (no margin),
    first of every member, then of the quorum. The quorum's search does not always find what the whole set's
    finds (its gradient follows other members), so both are asked. The tiers without the margin exist because a
    patient for whom no feasible change clears it would otherwise get no suggestion, only a reason: on the
    heart-failure validation patients the default set left 22 % of the MLP's and 41 % of the BiLSTM's without one
    (`benchmarks.recourse_robustness`); what they find is marked `without_margin` and the note calls it fragile, so
    it never reads as a suggestion with the margin's safety."""
    if not tiered:
        return []
    tiers: list[tuple[int | None, float]] = [(quorum, margin)] if quorum is not None else []
    if margin > 0:
        tiers += [(None, 0.0)] + ([(quorum, 0.0)] if quorum is not None else [])
    return tiers


def _reachable(ctx: SearchContext, spec, constraints: Constraints, reference: Reference | None,  # noqa: ANN001
               seed: int) -> bool:
    """Whether a search finds any change that moves the selected model alone to its threshold (``ctx``), the least
    that every tier without the margin asks: when none does, those tiers (about 25 ms each) are skipped. It runs
    only after the margin's tiers found nothing (most heart-disease patients), so a patient they cover pays
    nothing. Two searches of different kinds are asked before giving up, since one alone can miss a change that a
    tier finds (the sparse search missed "without anaemia, ejection fraction 25 -> 33 %" for one heart-failure
    patient of the NAM's that the full set's search found; the nearest-neighbour search did not). Without
    reference patients the second cannot run, and the tiers are not skipped."""
    if _search(ctx, spec, constraints, reference, 1, seed)[0]:
        return True
    if reference is None or len(reference.X) == 0 or "nearest" not in METHODS.keys():
        return True
    nearest = METHODS.get("nearest")
    return nearest is not spec and bool(_search(ctx, nearest, constraints, reference, 1, seed)[0])


def _tried_words(tiers: list[tuple[int | None, float]], members: int) -> str:
    """The last fallback tier that found nothing, for the reason: the weakest agreement the search asked for."""
    if not tiers:
        return ""
    quorum, margin = tiers[-1]
    who = f"{quorum} of the {members}" if quorum is not None else f"all {members}"
    return f", nor for {who} {'at their thresholds' if margin == 0 else 'with the margin'}"


def _search(ctx: SearchContext, spec, constraints: Constraints, reference: Reference | None, k: int,  # noqa: ANN001
            seed: int) -> tuple[list[Counterfactual], list[str]]:
    """One method's search in ``ctx``, then the hard check: the k cheapest distinct points that satisfy every
    constraint and flip what ``ctx`` asks to flip, with their plausibility; and why the others were refused."""
    raw = spec.search(ctx, reference, k, seed)
    accepted: list[Counterfactual] = []
    rejected: list[str] = []
    probabilities = ctx.proba(np.array(raw)) if raw else np.array([])
    for v, p in zip(raw, probabilities):
        problems = constraints.violations(ctx.model.schema, ctx.x, v) + ctx.outside_support(v) + ctx.infeasible(v)
        if not ctx.is_valid(p):
            problems.append("does not flip the prediction")
        if not changed_mask(ctx.x, v).any():
            problems.append("changes nothing")
        if problems:
            rejected.append("; ".join(problems))
            continue
        if any(np.allclose(v, c.values, equal_nan=True) for c in accepted):
            continue
        accepted.append(ctx.make(v, float(p), spec.label))
    if not spec.keeps_order:
        accepted.sort(key=lambda c: ctx.cost(c.values))
    accepted = accepted[:k]
    for cf in accepted:  # plausibility costs a LOF query: only for what is returned
        cf.metrics = metrics.single(ctx, cf.values, cf.probability, reference)
    return accepted, rejected


def _sized(model: TabularModel, x: np.ndarray, cf: Counterfactual, cap: float | None = None) -> tuple[str, bool]:
    """A counterfactual's changes with how far each moves the patient and, where one goes further than a treatment
    could, which limit it breaks, e.g. "serum creatinine 9.0 -> 2.17 mg/dL (11 percentile points; beyond the feasible
    change of at most 1.50 mg/dL, the span of the central 80 % of the training patients ...)". Without it a small
    percentile shift (9.0 and 2.17 are both far above the median) would read as a small change. Also whether a
    change breaks a feasible change, which only "any size" lifts (a larger percentile cap would still hide it)."""
    population = Population.of_model(model)
    shifts = population.shifts(x, cf.values)[0]
    names = model.schema.names
    parts, beyond = [], False
    for change in cf.changes:
        j = names.index(change.feature)
        said = [f"{shifts[j]:.0f} percentile points" + (f", more than the cap of {cap:.0f}" if cap is not None and shifts[j] > cap + 0.5
                                                          else "")] if shifts[j] > 0 else []
        reach = population.feasible_change(j, x[j])
        if np.isfinite(reach) and abs(float(cf.values[j]) - float(x[j])) > reach * (1 + 1e-9):
            amount, source = population.limit_words(j, x[j])
            said.append(f"beyond the feasible change of {amount}, {source}")
            beyond = True
        parts.append(change.describe() + (f" ({'; '.join(said)})" if said else ""))
    return ", ".join(parts), beyond


def _too_big(model: TabularModel, x: np.ndarray, cf: Counterfactual, cap: float | None) -> str:
    text, beyond = _sized(model, x, cf, cap)
    how = "'any size'" if beyond else "a bigger change"
    return (f"only a change larger than a treatment could bring about would flip it: {text}. Choose {how} under 'How big "
            f"a change' (--max-shift{' any' if beyond else ''}) to see it")


def _nothing_free(schema, constraints: Constraints) -> str:  # noqa: ANN001 - Schema
    """Why no feature may change, by what holds each one, with the way to free it: unlocking does nothing for a
    marker (a feature kept as measured; "allow markers" frees it), so a marker is never called "locked"."""
    groups: dict[str, list[str]] = {"locked": [], "by default": [], "markers": []}
    for f in schema.features:
        if f.mutability == Mutability.IMMUTABLE or not constraints.is_frozen(schema, f.name):
            continue
        if f.name in constraints.locked:
            groups["locked"].append(f.label)
        elif f.mutability == Mutability.LOCKABLE:
            groups["by default"].append(f.label)
        else:
            groups["markers"].append(f.label)
    parts = [f"{what}: {', '.join(groups[key])} ({how})" for key, what, how in (
        ("locked", "locked", "unlock one"), ("by default", "locked by default", "unlock one"),
        ("markers", "kept as measured (markers)", "allow markers, or mark them changeable in the schema"))
        if groups[key]]
    return "every feature is immutable, locked or kept as measured" + (f"; {'; '.join(parts)}" if parts else "")


def _labels(schema, cf: Counterfactual, only: Actionability | None = None) -> str:  # noqa: ANN001 - Schema
    """The features a counterfactual changes, by their labels (never raw column names); with ``only``, just those
    of that actionability (the markers of a change that also moves treatment targets)."""
    return ", ".join(schema[c.feature].label for c in cf.changes
                     if only is None or schema[c.feature].actionability == only)


def diagnose(model: TabularModel, x: np.ndarray, constraints: Constraints, reference: Reference | None,
             cancel: CancelToken = NEVER_CANCELLED, model_set: ModelSet | None = None, tried: str = "") -> str:
    """Relax one constraint at a time and report the first whose relaxation yields a counterfactual; with a model
    set, first whether the selected model alone could be flipped (``tried``: the fallback tiers that found nothing
    either, in words, e.g. ", nor for 3 of the 4 at their thresholds"). The reason carries no heading of its own: each
    reader puts one before it ("No suggestion", the CLI's "no counterfactual")."""
    schema = model.schema
    ctx = SearchContext.build(model, x, constraints, reference, cancel)
    if len(ctx.free) == 0:
        return _nothing_free(schema, constraints)

    def found(relaxed: Constraints, members: ModelSet | None = model_set) -> CounterfactualList:
        """The default search under the relaxed constraints, then, where it finds nothing and reference patients
        are known, the nearest-neighbour search: the sparse search can miss a change another kind finds (a NAM's
        patient was told "no change ... flips the prediction" while a larger change than the cap did)."""
        result = find_counterfactuals(model, x, relaxed, 1, METHODS.default, reference, cancel, diagnose_empty=False,
                                      model_set=members, partial=False)
        if result or reference is None or len(reference.X) == 0 or "nearest" not in METHODS.keys():
            return result
        return find_counterfactuals(model, x, relaxed, 1, "nearest", reference, cancel, diagnose_empty=False,
                                    model_set=members, partial=False)

    if model_set is not None:
        alone = found(constraints, None)
        bare = not alone and bool(tried) and constraints.margin > 0  # the set's thresholds were asked, so this model's
        if bare:
            alone = found(replace(constraints, margin=0.0), None)
        if not alone:
            return diagnose(model, x, constraints, reference, cancel)
        changes = ", ".join(c.describe() for c in alone[0].changes)
        return (f"no suggestion holds for every model of the set with a margin of {constraints.margin:.2f}{tried}; for "
                f"this model only{', without the margin' if bare else ''}: {changes}, fragile")

    trials = []
    if constraints.max_changes is not None:
        trials.append((replace(constraints, max_changes=None), lambda r: f"the limit of {constraints.max_changes} changed feature(s) blocks it: the smallest counterfactual changes {r[0].l0} ({_labels(schema, r[0])})"))
    if constraints.margin > 0:
        trials.append((replace(constraints, margin=0.0), lambda r: f"the required margin of {constraints.margin:.2f} beyond the threshold blocks it (p = {r[0].probability:.2f} is reachable)"))
    if constraints.max_shift is not None:
        trials.append((replace(constraints, max_shift=None), lambda r: _too_big(model, x, r[0], constraints.max_shift)))
    if constraints.locked:
        trials.append((replace(constraints, locked=frozenset()), lambda r: f"the lock on {', '.join(sorted(schema[n].label for n in constraints.locked if n in schema.names))} blocks it (it would need {_labels(schema, r[0])})"))
    trials.append((replace(constraints, directions={f.name: Direction.ANY for f in schema.features}), lambda r: f"the direction rules (increase-only, decrease-only, toward normal) block it (it would need {r[0].changes[0].describe()})"))
    if not constraints.allow_markers and any(f.actionability == Actionability.MARKER for f in schema.features):
        trials.append((replace(constraints, allow_markers=True), lambda r: f"only a change that includes observational markers could flip it ({_labels(schema, r[0], Actionability.MARKER)}); allow markers to see it"))
    lockable = frozenset(f.name for f in schema.features if f.mutability == Mutability.LOCKABLE)
    if lockable - constraints.unlocked:
        trials.append((replace(constraints, unlocked=constraints.unlocked | lockable), lambda r: f"only features locked by default could flip it ({_labels(schema, r[0])}); unlock them to see it"))
    for relaxed, explain_it in trials:
        result = found(relaxed)
        if result:
            return explain_it(result)
    limits = [(name, how) for name, how, relaxable in (
        ("the limit on changed features", "'any number' of changes", constraints.max_changes is not None),
        ("the margin", "a margin of 0 (--margin 0)", constraints.margin > 0),
        ("the cap", "'any size' under 'How big a change' (--max-shift any)", constraints.max_shift is not None),
        ("the locks", "no locks", bool(constraints.locked))) if relaxable]
    if len(limits) > 1:  # no one limit blocks alone; several together may (a bigger change without the margin)
        together = found(replace(constraints, max_changes=None, margin=0.0, max_shift=None, locked=frozenset()))
        if together:
            names, hows = [name for name, _ in limits], [how for _, how in limits]
            return (f"no single limit blocks it alone, but together {', '.join(names[:-1])} and {names[-1]} do: "
                    f"{_sized(model, x, together[0], constraints.max_shift)[0]} would flip it. Choose "
                    f"{', '.join(hows[:-1])} and {hows[-1]} to see it")
    return "no change of the features that may change, within their clinical ranges, flips the prediction"
