"""Counterfactual benchmark on heart failure (without time): our methods vs the seed baseline vs dice-ml.

Protocol: the shipped MLP and BiLSTM; the stratified 80/20 split (seed 0) their cards record; reference
patients = the 80% training rows; every validation patient the model predicts to die is explained. Same
constraints for every method: age and sex immutable, diabetes locked (lockable, locked by default), anaemia,
high blood pressure and smoking decrease-only, clinical ranges. dice-ml gets the same model (its 0.5 boundary
shifted to our threshold), features_to_vary and permitted ranges.

Run: python -m benchmarks.tabular_cf  (needs ../shared/data; dice-ml from the `bench` extra is optional)
Writes benchmarks/results/tabular_cf.json and the table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any, Callable

import numpy as np
import torch

from benchmarks.common import machine, machine_line, median, nonempty, percentile, publish, share
from benchmarks.dice_reference import dice_finder
from cfx_desktop.core.tabular import train
from cfx_desktop.core.tabular.counterfactuals import Constraints, Reference, find_counterfactuals
from cfx_desktop.core.tabular.counterfactuals import baseline_nn
from cfx_desktop.core.tabular.counterfactuals.constraints import changed_mask
from cfx_desktop.core.tabular.counterfactuals.context import SearchContext
from cfx_desktop.core.tabular.counterfactuals.metrics import diversity, plausibility
from cfx_desktop.core.tabular.models import TabularModel, load_model
MODELS = ["heart-failure-no-time-mlp", "heart-failure-no-time-bilstm"]


def _score(model: TabularModel, reference: Reference, x: np.ndarray, cfs: list[np.ndarray], constraints: Constraints) -> dict[str, Any]:
    ctx = SearchContext.build(model, x, constraints, reference)
    rows = []
    for v in cfs:
        p = float(model.predict_proba(v)[0])
        immutable_changed = bool(changed_mask(x, v)[[model.schema.index("age"), model.schema.index("sex")]].any())
        row = {
            "valid": float(ctx.is_valid(p)),
            "violations": float(bool(constraints.violations(model.schema, x, v, check_grid=False))),
            "changes_age_or_sex": float(immutable_changed),
            "l0": float(changed_mask(x, v).sum()),
            "mad_l1": ctx.distance(v),
        }
        row.update(plausibility(ctx, v, reference))
        rows.append(row)
    return {"rows": rows, "diversity": diversity(ctx, list(cfs)) if len(cfs) > 1 else None}


def _ours(method: str, k: int) -> Callable:
    def run(model, reference, x, constraints):  # noqa: ANN001, ANN202
        return [cf.values for cf in find_counterfactuals(model, x, constraints, k=k, method=method, reference=reference)]
    return run


def _baseline_raw(labels: np.ndarray | None) -> Callable:
    """The seed's method unfiltered (its faithful output, violations included), for the comparison: among the
    reference patients who truly survived when ``labels`` are given, else among those predicted to survive."""
    def run(model, reference, x, constraints):  # noqa: ANN001, ANN202
        candidates = reference.X[labels == 0] if labels is not None else reference.predicted(0)
        return [baseline_nn.hamming_nearest(x, candidates)]
    return run


def summarise(per_patient: list[dict[str, Any]], seconds: list[float], n: int, row: str = "tabular counterfactuals") -> dict[str, Any]:
    nonempty(per_patient, row, "patients")
    rows = [r for p in per_patient for r in p["rows"]]
    mean = lambda key: float(np.mean([r[key] for r in rows if key in r])) if rows else None  # noqa: E731
    div = [p["diversity"] for p in per_patient if p["diversity"] is not None]
    return {
        "patients": n,
        "coverage": share(sum(1 for p in per_patient if p["rows"]), n, row, "patients"),
        "validity": mean("valid"),
        "violations": mean("violations"),
        "changes_age_or_sex": mean("changes_age_or_sex"),
        "mean_l0": mean("l0"),
        "mean_mad_l1": mean("mad_l1"),
        "lof_outliers": mean("lof_outlier"),
        "knn_distance": mean("knn_distance"),
        "diversity": float(np.mean(div)) if div else None,
        "median_s": median(seconds, row),
        "p95_s": percentile(seconds, 95, row),
    }


def run(with_dice: bool = True, threads: int | None = None) -> dict[str, Any]:
    if threads:
        torch.set_num_threads(threads)
    warnings.filterwarnings("ignore")
    results: dict[str, Any] = {"machine": machine(), "protocol": __doc__.split("Run:")[0].strip(), "models": {}}
    constraints = Constraints()
    for name in MODELS:
        model = load_model(name, torch.device("cpu"))
        schema, cohort, _ = train.dev_cohort("heart-failure", ["time"], None)
        train_idx, valid_idx = train.holdout_split(cohort.y, model.card["seed"])
        reference = Reference.build(model, cohort.X[train_idx], "training rows")
        X_valid = cohort.X[valid_idx]
        at_risk = nonempty(X_valid[model.predict_proba(X_valid) >= model.threshold], name, "validation patients predicted to die")
        methods: dict[str, Callable | None] = {
            "baseline 1-NN Hamming, true survivors (seed)": _baseline_raw(cohort.y[train_idx]),
            "baseline 1-NN Hamming, predicted survivors": _baseline_raw(None),
            "nearest feasible neighbour, k=1": _ours("nearest", 1),
            "sparse optimisation, k=1": _ours("sparse", 1),
            "sparse optimisation, k=4": _ours("sparse", 4),
            "diverse set, k=4": _ours("diverse", 4),
        }
        if with_dice:
            for dice_method in ("random", "genetic"):
                for k in (1, 4):
                    methods[f"dice-ml {dice_method}, k={k}"] = dice_finder(dice_method, k, cohort.X[train_idx], cohort.y[train_idx], model)
        table = {}
        for label, method in methods.items():
            if method is None:
                continue
            method(model, reference, at_risk[0], constraints)  # warm-up (lazy imports, caches)
            per_patient, seconds = [], []
            for x in at_risk:
                start = time.perf_counter()
                cfs = method(model, reference, x, constraints)
                seconds.append(time.perf_counter() - start)
                per_patient.append(_score(model, reference, x, cfs, constraints))
            table[label] = summarise(per_patient, seconds, len(at_risk), f"{name}, {label}")
            print(f"{name} | {label}: {table[label]}", flush=True)
        results["models"][name] = {"patients_predicted_to_die": int(len(at_risk)), "methods": table}
    return results


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "## Tabular counterfactuals (`python -m benchmarks.tabular_cf`)",
        "",
        machine_line(m) + " Validity, violations, age/sex, L0, LOF are means over returned counterfactuals; "
        "coverage is the share of patients with at least one. Times are per patient, whole call.",
        "",
    ]
    fmt = lambda v, d=2: "n/a" if v is None else f"{v:.{d}f}"  # noqa: E731
    for name, block in results["models"].items():
        lines += [f"### {name} ({block['patients_predicted_to_die']} validation patients predicted to die)", "",
                  "| method | coverage | validity | violations | changes age or sex | mean L0 | MAD-L1 | LOF outliers | kNN dist. | diversity | median / p95 ms |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for label, r in block["methods"].items():
            lines.append(
                f"| {label} | {fmt(r['coverage'])} | {fmt(r['validity'])} | {fmt(r['violations'])} | {fmt(r['changes_age_or_sex'])} | "
                f"{fmt(r['mean_l0'])} | {fmt(r['mean_mad_l1'])} | {fmt(r['lof_outliers'])} | {fmt(r['knn_distance'])} | "
                f"{fmt(r['diversity'])} | {r['median_s'] * 1000:.1f} / {r['p95_s'] * 1000:.1f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-dice", action="store_true")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    args = parser.parse_args()
    results = run(with_dice=not args.no_dice, threads=args.threads)
    path = publish("tabular_cf", results, markdown(results))
    print(f"wrote {path} and docs/benchmarks.md")


if __name__ == "__main__":
    main()
