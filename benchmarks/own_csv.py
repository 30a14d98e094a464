"""Suggestions on a clinical CSV as a new user brings it: the file goes through the own-data path with the schema
that inference proposes, unreviewed (`train-tabular --data CSV --target COLUMN --name NAME`, the default four
architectures with two models each, no cross-validation), into a throw-away user folder; then the app's default
search (consensus of the four base models, its margin, k = 1, every fallback tier) explains validation rows.

This is the issue-26 target "on a clinical CSV you have not seen, trained with its inferred schema, >= 80 % within
50 points", measured on the two real files this project has, each read as if it were new (the curated built-in
schemas play no part: inference decides what may change, and in which direction). The project has no third real
table and may not download one, so the two files stand in for "unseen"; their inferred tags are printed with the
results, so that a reader sees what the search was allowed to change.

Protocol per file: the validation rows (the training command's stratified 20 %, seed 0) that the selected model
predicts positive (at most 40); held-out judges trained here on the training rows as in
`benchmarks.recourse_robustness` (the four architectures with seeds 100 and 101, random forest, gradient boosting,
logistic regression); the same metrics as there.

Run: python -m benchmarks.own_csv   (needs ../shared/data; about 3 minutes on 2 CPU cores)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from benchmarks.common import machine, machine_line, publish_and_show, require

FILES = (("heart_failure_clinical_records_dataset.csv", "DEATH_EVENT", "unseen heart failure"),
         ("heart.csv", "HeartDisease", "unseen heart disease"))
MAX_PATIENTS = 40
LIMIT_S = 900


def _train(csv: Path, target: str, name: str, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "cfx_desktop", "train-tabular", "--data", str(csv), "--target", target,
                           "--name", name, "--cv-repeats", "0"], env=env, capture_output=True, text=True, timeout=LIMIT_S)
    require(done.returncode == 0, f"training {name}", f"exit {done.returncode}: {done.stderr[-600:]}")


def _tags(schema) -> list[str]:  # noqa: ANN001 - Schema
    """What inference let the search change, per feature, in words."""
    from cfx_desktop.core.tabular.schema import Actionability, Mutability

    said = []
    for f in schema.features:
        if f.mutability == Mutability.IMMUTABLE:
            how = "never"
        elif f.mutability == Mutability.LOCKABLE:
            how = "locked"
        elif f.actionability == Actionability.MARKER:
            how = "kept as measured"
        else:
            how = f"may change ({f.direction.value})"
        said.append(f"{f.name}: {how}")
    return said


def run() -> dict[str, Any]:
    warnings.filterwarnings("ignore")
    from cfx_desktop import paths

    results: dict[str, Any] = {"machine": machine(), "protocol": __doc__.split("Run:")[0].strip(), "files": {}}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CFX_USER_DATA_DIR": str(Path(tmp) / "user"), "CFX_SETTINGS_DIR": str(Path(tmp) / "settings")}
        os.environ.update(CFX_USER_DATA_DIR=env["CFX_USER_DATA_DIR"], CFX_SETTINGS_DIR=env["CFX_SETTINGS_DIR"])
        for file, target, name in FILES:
            csv = paths.data_file(file)
            require(csv is not None, name, f"{file} is not in the real-data folder")
            _train(csv, target, name, env)
        import torch

        from benchmarks.recourse_robustness import evaluate, held_out_models
        from cfx_desktop.core.tabular import train, user_datasets
        from cfx_desktop.core.tabular.infer import slug
        from cfx_desktop.core.tabular.counterfactuals import Constraints, Reference
        from cfx_desktop.core.tabular.model_set import CONSENSUS_MEMBERS, default_margin, load_model_set
        from cfx_desktop.core.tabular.models import ARCHITECTURES, load_model, model_name

        torch.set_num_threads(2)
        user_datasets.register_all()
        for file, target, name in FILES:
            dataset = slug(name)
            schema, cohort, _ = train.dev_cohort(dataset, [], None)
            train_idx, valid_idx = train.holdout_split(cohort.y, 0)
            X_train, y_train = cohort.X[train_idx], cohort.y[train_idx]
            zoo = held_out_models(schema, X_train, y_train)
            models = load_model_set(schema.name, per_architecture=CONSENSUS_MEMBERS)
            judges = load_model_set(schema.name)
            margin = default_margin(schema.name)
            block: dict[str, Any] = {"file": file, "rows": int(len(cohort.y)), "tags": _tags(schema), "margin": margin,
                                     "held_out_models": list(zoo), "architectures": {}}
            for arch in ARCHITECTURES.keys():
                model = load_model(model_name(schema, arch), torch.device("cpu"))
                reference = Reference.build(model, X_train, "training rows")
                X_valid = cohort.X[valid_idx]
                patients = X_valid[model.predict_proba(X_valid) >= model.threshold][:MAX_PATIENTS]
                row = evaluate(model, models, judges, reference, patients, zoo, Constraints(margin=margin), True, options=True)
                print(f"{name} {arch}: {row}", flush=True)
                block["architectures"][arch] = row
            results["files"][name] = block
    return results


def markdown(results: dict[str, Any]) -> str:
    fmt = lambda v, d=2: "n/a" if v is None else f"{v:.{d}f}"  # noqa: E731
    lines = ["## A clinical CSV as a new user brings it (`python -m benchmarks.own_csv`)", "",
             machine_line(results["machine"]) + " Each file trained through `train-tabular --data` with the schema "
             "inference proposed, unreviewed; the app's default search (consensus of 4, every fallback tier, k = 1); "
             "held-out judges trained in the benchmark.", ""]
    for name, block in results["files"].items():
        lines += [f"### {name} ({block['file']}, {block['rows']} rows; margin {block['margin']:.2f})", "",
                  "What inference let the search change: " + "; ".join(block["tags"]) + ".", "",
                  "| model | patients | coverage | within 50 points (of suggestions / of patients) | median largest change "
                  "| held-out share crossed | random forest / gradient boosting / logistic regression | k = 3 options' "
                  "Jaccard distance | from the partial tier / without the margin | median / p95 ms |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for arch, r in block["architectures"].items():
            by = r.get("heldout_share_by_model") or {}
            sk = " / ".join(fmt(by.get(k)) for k in ("random forest", "gradient boosting", "logistic regression"))
            lines.append(f"| {arch} | {r['patients']} | {fmt(r['coverage'])} | {fmt(r['within_50'])} / "
                         f"{fmt(r['within_50_of_patients'])} | {fmt(r['median_max_shift'], 0)} | {fmt(r['heldout_share'])} | "
                         f"{sk} | {fmt(r['options_jaccard'])} | {fmt(r['partial_tier'])} / {fmt(r['no_margin_tier'])} | "
                         f"{r['median_ms']:.0f} / {r['p95_ms']:.0f} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    results = run()
    publish_and_show("own_csv", results, markdown(results))


if __name__ == "__main__":
    main()
