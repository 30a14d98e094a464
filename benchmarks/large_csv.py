"""A 20,000-row CSV of your own, explained: peak memory and time of `explain-patient` on it (issue 26 target:
peak below 1.5 GB, under 60 s).

The CSV is generated here (no data needed): 20,000 patients with nine clinical columns (age, sex, glucose, blood
pressure, BMI, cholesterol, a family-history score, a stage, a lab value no rule knows) and an outcome from a
logistic model of them. The dataset is built by the project's own command (`train-tabular --data ... --target
... --model lasso --members 1 --cv-repeats 0`, into a throw-away user folder); its 16,000 training rows are then the
reference cohort of the plausibility check (LOF and the change among patients like this one). Timed, in a fresh
process each: `explain-patient --dataset ... --csv ... --row N --json` for three rows; the peak resident memory is
the child's (getrusage). Each run must exit 0 and print JSON with a prediction, and its plausibility must have
been judged against the reference (``lof_outlier`` present) when a suggestion came back.

Run: python -m benchmarks.large_csv   (about 2 minutes on 2 CPU cores)
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import BenchmarkError, machine, machine_line, publish_and_show, require

ROWS = 20_000
LIMIT_S = 300


def make_csv(path: Path, rows: int = ROWS, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    age = rng.integers(25, 85, rows)
    sex = rng.integers(0, 2, rows)
    glucose = np.clip(rng.normal(110, 30, rows), 50, 300).round()
    bp = np.clip(rng.normal(130, 18, rows), 80, 220).round()
    bmi = np.clip(rng.normal(28, 5, rows), 15, 55).round(1)
    chol = np.clip(rng.normal(210, 40, rows), 100, 400).round()
    ped = rng.gamma(2.0, 0.25, rows).round(3)
    stage = rng.integers(1, 5, rows)
    lab = rng.lognormal(1.0, 0.5, rows).round(2)
    logit = (0.04 * (age - 55) + 0.03 * (glucose - 110) + 0.02 * (bp - 130) + 0.08 * (bmi - 28) + 0.01 * (chol - 210)
             + 0.8 * ped + 0.3 * stage - 2.0 + rng.normal(0, 1, rows))
    outcome = (rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))).astype(int)
    header = "age,sex,glucose,bp,bmi,chol,ped,stage,lab,outcome"
    lines = [header] + [",".join(str(v) for v in row) for row in zip(age, sex, glucose, bp, bmi, chol, ped, stage, lab, outcome)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _child(args: list[str], env: dict[str, str], row: str) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run the CLI in a fresh process: (result, seconds, the children's peak RSS in MB so far)."""
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "cfx_desktop", *args], env=env, capture_output=True, text=True,
                              timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        raise BenchmarkError(row, f"did not finish within {LIMIT_S} s") from None
    seconds = time.perf_counter() - start
    require(done.returncode == 0, row, f"exit {done.returncode}: {done.stderr[-600:]}")
    return done, seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run() -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "protocol": __doc__.split("Run:")[0].strip(), "rows": ROWS, "explained": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        csv = root / "large.csv"
        make_csv(csv)
        env = {**os.environ, "CFX_USER_DATA_DIR": str(root / "user"), "CFX_SETTINGS_DIR": str(root / "settings"),
               "QT_QPA_PLATFORM": "offscreen"}
        _, train_s, train_peak = _child(["train-tabular", "--data", str(csv), "--target", "outcome", "--name", "large",
                                         "--model", "lasso", "--members", "1", "--cv-repeats", "0"], env, "training")
        results["train_seconds"], results["train_peak_mb"] = train_s, train_peak
        for n in (1, 2, 3):
            row = f"explain row {n}"
            done, seconds, peak = _child(["explain-patient", "--dataset", "large", "--csv", str(csv), "--row", str(n),
                                          "--k", "3", "--json"], env, row)
            payload = json.loads(done.stdout)
            require("prediction" in payload, row, "no prediction in the JSON")
            judged = all("lof_outlier" in cf["metrics"] for cf in payload["counterfactuals"])
            require(judged, row, "plausibility was not judged against the 16,000-row reference")
            results["explained"].append({"row": n, "seconds": seconds, "suggestions": len(payload["counterfactuals"]),
                                         "reason": payload.get("reason"), "max_shift": max(
                                             (c["percentile_shift"] for cf in payload["counterfactuals"] for c in cf["changes"]),
                                             default=0.0)})
        results["explain_seconds_max"] = max(r["seconds"] for r in results["explained"])
        results["peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child
    return results


def markdown(results: dict[str, Any]) -> str:
    lines = ["## A 20,000-row CSV of your own (`python -m benchmarks.large_csv`)", "",
             machine_line(results["machine"]) + f" {results['rows']:,} generated rows; lasso model set trained by "
             f"`train-tabular` in {results['train_seconds']:.0f} s; each explanation a fresh `explain-patient` process.", "",
             "| row | seconds (whole process) | suggestions | largest change (percentile points) |", "|---|---|---|---|"]
    for r in results["explained"]:
        lines.append(f"| {r['row']} | {r['seconds']:.1f} | {r['suggestions']} | {r['max_shift']:.0f} |")
    lines += ["", f"Peak resident memory of any child process: **{results['peak_mb']:.0f} MB** (target < 1,500 MB); "
              f"slowest explanation **{results['explain_seconds_max']:.1f} s** (target < 60 s).", ""]
    return "\n".join(lines)


def main() -> None:
    results = run()
    publish_and_show("large_csv", results, markdown(results))


if __name__ == "__main__":
    main()
