"""Training and evaluation of the patient models; writes shipped bundles with full model cards.

Protocol (every choice made on training data only):
* 5x5 repeated stratified CV on the development data for the comparison table; inside each training fold an
  inner stratified 20% split drives early stopping and the decision threshold (max balanced accuracy).
* The shipped model is trained on a stratified 80% of the development data with the same inner split, and its
  card reports the untouched 20% as validation metrics. For heart disease the development data is the
  train/validation split (ml4h2), so the official test split is never read.
"""

from __future__ import annotations

import datetime as _dt
import platform
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split

from cfx_desktop.core import bundles
from cfx_desktop.core.cancel import NEVER_CANCELLED, CancelToken, no_progress
from cfx_desktop.core.hashing import sha256_file
from cfx_desktop.core.metrics import binary_metrics, choose_threshold, reliability, summarise
from cfx_desktop.core.tabular.data import Cohort, load_dataset
from cfx_desktop.core.tabular.datasets import DATASETS
from cfx_desktop.core.tabular.models import ARCHITECTURES, Hyper, build_net, model_name
from cfx_desktop.core.tabular.models.base import Preprocessor, TabularNet
from cfx_desktop.core.tabular.schema import Schema

def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


def _probabilities(net: TabularNet, X: np.ndarray) -> np.ndarray:
    net.eval()
    with torch.inference_mode():
        return torch.sigmoid(net(torch.as_tensor(X, dtype=torch.float32))).numpy().astype(np.float64)


def _fit_torch(net: TabularNet, hyper: Hyper, X_tr, y_tr, X_va, y_va, cancel: CancelToken) -> dict[str, Any]:
    Xt = torch.as_tensor(X_tr, dtype=torch.float32)
    yt = torch.as_tensor(y_tr, dtype=torch.float32)
    Xv = torch.as_tensor(X_va, dtype=torch.float32)
    yv = torch.as_tensor(y_va, dtype=torch.float32)
    pos_weight = torch.tensor((y_tr == 0).sum() / max((y_tr == 1).sum(), 1), dtype=torch.float32)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    optimiser = torch.optim.Adam(net.body.parameters(), lr=hyper.lr, weight_decay=hyper.weight_decay)
    best_loss, best_state, best_epoch, stale = np.inf, None, 0, 0
    n = len(Xt)
    for epoch in range(hyper.epochs):
        cancel.raise_if_cancelled()
        net.train()
        order = torch.randperm(n)
        for start in range(0, n, hyper.batch_size):
            idx = order[start : start + hyper.batch_size]
            optimiser.zero_grad()
            encoded = net.pre(Xt[idx])
            logits = net.body(encoded).reshape(-1)
            loss = loss_fn(logits, yt[idx])
            if hyper.output_penalty:
                loss = loss + hyper.output_penalty * net.body.contributions(encoded).pow(2).mean()
            loss.backward()
            optimiser.step()
        net.eval()
        with torch.inference_mode():
            val_loss = float(loss_fn(net(Xv), yv))
        if val_loss < best_loss - 1e-5:
            best_loss, best_epoch, stale = val_loss, epoch + 1, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            stale += 1
            if stale >= hyper.patience:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return {"epochs": best_epoch, "val_loss": best_loss}


def fit(
    architecture: str, schema: Schema, X: np.ndarray, y: np.ndarray, seed: int = 0,
    cancel: CancelToken = NEVER_CANCELLED, hyper: Hyper | None = None, bootstrap: bool = False,
) -> tuple[TabularNet, float, dict[str, Any]]:
    """Train one model on (X, y): inner 20% split for early stopping and the threshold. With ``bootstrap`` the
    inner training part is resampled with replacement (per class, after the split, so no row is on both sides):
    the members of a model set differ in data as well as in initialisation."""
    _seed_everything(seed)
    X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
    if bootstrap:
        rng = np.random.default_rng(seed)
        index = np.concatenate([rng.choice(np.flatnonzero(y_tr == c), (y_tr == c).sum()) for c in np.unique(y_tr)])
        X_tr, y_tr = X_tr[index], y_tr[index]
    spec = ARCHITECTURES.get(architecture)
    net = build_net(architecture, schema)
    net.pre.fit(X_tr)
    if spec.fit is not None:
        info = spec.fit(net, X_tr, y_tr, seed)
    else:
        info = _fit_torch(net, hyper or spec.hyper, X_tr, y_tr, X_va, y_va, cancel)
    threshold = choose_threshold(y_va, _probabilities(net, X_va))
    info["threshold"] = threshold
    return net, threshold, info


def logistic_baseline(schema: Schema, X: np.ndarray, y: np.ndarray, seed: int) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    """Plain L2 logistic regression (class-weighted) on the same preprocessing: the comparison row."""
    X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
    pre = Preprocessor(schema).fit(X_tr)

    def encode(A: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return pre(torch.as_tensor(A, dtype=torch.float32)).numpy()

    model = LogisticRegression(class_weight="balanced", max_iter=2000).fit(encode(X_tr), y_tr)
    threshold = choose_threshold(y_va, model.predict_proba(encode(X_va))[:, 1])
    return (lambda A: model.predict_proba(encode(A))[:, 1]), threshold


def cross_validate(
    architecture: str, schema: Schema, X: np.ndarray, y: np.ndarray, *, splits: int = 5, repeats: int = 5,
    seed: int = 0, progress=no_progress, cancel: CancelToken = NEVER_CANCELLED,  # noqa: ANN001
) -> dict[str, Any]:
    folds = []
    cv = RepeatedStratifiedKFold(n_splits=splits, n_repeats=repeats, random_state=seed)
    total = splits * repeats
    for k, (train_idx, test_idx) in enumerate(cv.split(X, y)):
        cancel.raise_if_cancelled()
        if architecture == "logistic":
            predict, threshold = logistic_baseline(schema, X[train_idx], y[train_idx], seed + k)
            p = predict(X[test_idx])
        else:
            net, threshold, _ = fit(architecture, schema, X[train_idx], y[train_idx], seed + k, cancel)
            p = _probabilities(net, X[test_idx])
        folds.append(binary_metrics(y[test_idx], p, threshold))
        progress((k + 1) / total, f"{architecture} fold {k + 1}/{total}")
    return {"protocol": f"{repeats}x{splits} repeated stratified CV, seed {seed}, on {len(y)} rows", **summarise(folds)}


def dev_cohort(dataset: str, exclude: list[str], data: str | Path | None) -> tuple[Schema, Cohort, Path]:
    """The development rows of a registered dataset (variant chosen by ``exclude``), from ``data`` or
    ../shared/data."""
    spec = DATASETS.get(dataset)
    unknown = [e for e in exclude if e not in spec.schema.names]
    if unknown:
        raise ValueError(f"cannot exclude unknown feature(s) {', '.join(unknown)}")
    schema = spec.variant_for(exclude).schema
    from cfx_desktop import paths

    path = Path(data) if data else paths.data_file(spec.dev_file)
    if path is None:
        raise FileNotFoundError(f"{spec.dev_file} not found in ../shared/data; pass --data PATH or set CFX_DATA_DIR")
    cohort = load_dataset(schema, path)
    return schema, cohort, path


def development_rows(y: np.ndarray, max_rows: int | None, seed: int) -> np.ndarray:
    """The rows a model trains and validates on: all of them, or a stratified sample of ``max_rows`` (sorted) for
    a large file. Loading a model's reference rows repeats it from the card, so both see the same rows."""
    if max_rows is None or len(y) <= max_rows:
        return np.arange(len(y))
    keep, _ = train_test_split(np.arange(len(y)), train_size=max_rows, stratify=y, random_state=seed)
    return np.sort(keep)


def holdout_split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The stratified 80/20 split used for every shipped patient model and the counterfactual benchmark."""
    index = np.arange(len(y))
    train, valid = train_test_split(index, test_size=0.2, stratify=y, random_state=seed)
    return np.sort(train), np.sort(valid)


def reference_stats(schema: Schema, X: np.ndarray) -> dict[str, dict[str, float]]:
    """Per-feature summary statistics of the training rows (not the rows themselves): the counterfactual
    search scales distances by MAD, prices changes in percentile points and keeps suggestions inside the observed
    range even on a fresh install with no data."""
    from cfx_desktop.core.tabular.counterfactuals.feasibility import quantiles

    stats = {}
    for j, feature in enumerate(schema.features):
        column = X[:, j][~np.isnan(X[:, j])]
        median = float(np.median(column))
        mad = float(1.4826 * np.median(np.abs(column - median)))
        if mad <= 0:  # binary features and spiky columns: fall back to the standard deviation
            mad = float(column.std()) or 1.0
        stats[feature.name] = {
            "median": median, "mad": mad, "p01": float(np.percentile(column, 1)), "p99": float(np.percentile(column, 99)),
            "min": float(column.min()), "max": float(column.max()),
            "quantiles": quantiles(column),  # percentile shifts and the feasible change (counterfactuals.feasibility)
        }
    return stats


def noise_sensitivity(net: TabularNet, schema: Schema, X: np.ndarray, seed: int, draws: int = 20) -> dict[str, Any]:
    """How far measurement noise moves the probability: Gaussian noise at each feature's stated precision (the
    schema's), added to the validation rows. Its 95th percentile is how far past its threshold a suggestion must
    land for this model to hold under re-measurement about 95 times in 100."""
    from cfx_desktop.core.tabular.counterfactuals.consensus import measurement_noise

    base = _probabilities(net, X)
    noisy = measurement_noise(schema, X, draws, np.random.default_rng(seed))  # row i's copies are rows i*draws...
    moved = np.abs(_probabilities(net, noisy) - np.repeat(base, draws))
    return {"p50": float(np.median(moved)), "p95": float(np.percentile(moved, 95)),
            "rule": f"|p(x + noise) - p(x)| on the validation rows, {draws} draws each; noise SD = the schema's precision"}


def _fmt(summary: dict[str, Any], name: str) -> str:
    return f"{summary[name]['mean']:.3f} +- {summary[name]['sd']:.3f}"


def train_and_save(
    dataset: str, architecture: str, *, exclude: list[str] | None = None, data: str | Path | None = None,
    seed: int = 0, cv_repeats: int = 5, out: Path | None = None, command: str = "", member: int = 0,
    max_rows: int | None = None, progress=no_progress, cancel: CancelToken = NEVER_CANCELLED,  # noqa: ANN001
) -> dict[str, Any]:
    """Train, evaluate and save one bundle. ``member`` 0 is the architecture's base model; member k > 0 is the
    k-th extra member of its model set: the same hold-out split, seed + k, bootstrap resampling. ``max_rows``
    caps the rows used (a stratified sample, seed ``seed``; said in the card) so a large CSV trains in minutes."""
    exclude = exclude or []
    schema, cohort, path = dev_cohort(dataset, exclude, data)
    assert cohort.y is not None
    rows = development_rows(cohort.y, max_rows, seed)
    X, y = cohort.X[rows], cohort.y[rows]
    sampled = (f"a stratified sample of {len(rows)} of the {len(cohort.y)} rows (seed {seed}); of it: "
               if len(rows) < len(cohort.y) else "")
    train_idx, valid_idx = holdout_split(y, seed)
    net, threshold, info = fit(architecture, schema, X[train_idx], y[train_idx], seed + member, cancel, bootstrap=member > 0)
    p_valid = _probabilities(net, X[valid_idx])
    holdout = binary_metrics(y[valid_idx], p_valid, threshold)
    progress(0.1, "hold-out model trained")
    cv = None
    if cv_repeats > 0:
        cv = cross_validate(architecture, schema, X, y, repeats=cv_repeats, seed=seed,
                            progress=lambda f, m="", p=None: progress(0.1 + 0.9 * f, m), cancel=cancel)
    spec, arch = DATASETS.get(dataset), ARCHITECTURES.get(architecture)
    variant = spec.variant_for(exclude)
    set_name = model_name(schema, architecture)
    name = set_name if member == 0 else f"{set_name}-m{member}"
    summary = f"validation ROC AUC {holdout['roc_auc']:.3f}"
    if cv:
        summary += f"; {cv_repeats}x5 CV ROC AUC {_fmt(cv, 'roc_auc')}"
    card: dict[str, Any] = {
        "name": name,
        "task": f"{schema.title}: probability of {schema.target_label} ({schema.target} = 1)",
        "label": f"{arch.label} ({schema.title}{', without ' + ', '.join(exclude) if exclude else ''})",
        "schema": schema.name,
        "dataset": dataset,
        "architecture": architecture,
        "architecture_args": arch.args,
        "features": schema.names,
        "excluded_features": exclude,
        "why_excluded": variant.why_excluded,
        "preprocessing": "inside the model: median imputation of missing values, log1p for heavy-tailed "
                         "non-negative features (skew > 2), z-scores, one-hot for categorical features",
        "reference_stats": reference_stats(schema, X[train_idx]),
        "threshold": threshold,
        "threshold_rule": "maximises balanced accuracy on an inner stratified 20% validation split of the training data",
        "model_set": set_name,
        "member": member,
        "calibration": {**reliability(y[valid_idx], p_valid), "on": "the validation rows"},
        "noise_sensitivity": noise_sensitivity(net, schema, X[valid_idx], seed),
        "training": {**info, "hyperparameters": arch.hyper.__dict__, "class_weighting": arch.class_weighting},
        "data": {
            "file": path.name,
            "sha256": sha256_file(path),
            "rows": int(len(y)),
            "positives": int(y.sum()),
            "split": f"{sampled}stratified 80/20 hold-out of the {len(y)} development rows, seed {seed}: trained on "
                     f"{len(train_idx)} (with an inner 20% for early stopping and threshold), validated on {len(valid_idx)}",
            "validation_rows": rows[valid_idx].tolist(),
            "max_rows": max_rows if sampled else None,
        },
        "seed": seed,
        "training_seed": seed + member,
        "command": command,
        "metrics": {"validation": holdout, "cv": cv},
        "metrics_summary": summary,
        "licence": spec.licence,
        "attribution": spec.attribution,
        "environment": {"torch": torch.__version__, "python": platform.python_version()},
        "created": _dt.date.today().isoformat(),
    }
    bundles.save(name, net.state_dict(), card, out)
    return card
