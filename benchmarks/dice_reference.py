"""dice-ml (Mothilal et al. 2020) as the reference row of the counterfactual benchmarks: the same model, patients
and constraints as our search. Optional: from the `bench` extra; without it the benchmarks leave the row out."""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
import torch

from cfx_desktop.core.tabular.models import TabularModel
from cfx_desktop.core.tabular.schema import Direction, Kind


def dice_finder(method: str, k: int, train_X: np.ndarray, train_y: np.ndarray, model: TabularModel) -> Callable | None:
    """``run(model, reference, x, constraints) -> list of counterfactual rows`` by dice-ml, or None without dice-ml.

    dice-ml gets the same model (its fixed 0.5 boundary shifted to our threshold), the features our constraints
    leave free, and permitted ranges that respect each feature's allowed direction."""
    try:
        import dice_ml
        import pandas as pd
        from raiutils.exceptions import UserConfigValidationException
    except ImportError:
        return None
    schema = model.schema
    categories = [f.name for f in schema.features if f.kind in (Kind.BINARY, Kind.CATEGORICAL)]
    continuous = [f.name for f in schema.features if f.kind in (Kind.INTEGER, Kind.CONTINUOUS)]

    median = np.nanmedian(train_X, axis=0)

    def frame(X: np.ndarray) -> "pd.DataFrame":
        """dice-ml takes no missing values: they are filled with the training median (and never varied)."""
        df = pd.DataFrame(np.where(np.isnan(X), median, X), columns=schema.names)
        for name in categories:  # dice-ml wants categories as strings (pandas 3: from the start)
            df[name] = df[name].astype(int).astype(str)
        return df

    class Wrapped:
        """Our model, its probability shifted so that dice-ml's fixed 0.5 boundary equals our threshold."""

        def predict_proba(self, X):  # noqa: ANN001, ANN202
            values = torch.as_tensor(X[schema.names].astype(float).to_numpy(), dtype=torch.float32)
            with torch.inference_mode():
                logit = model.logits(values).cpu().numpy() - model.threshold_logit
            p = 1 / (1 + np.exp(-logit))
            return np.c_[1 - p, p]

        def predict(self, X):  # noqa: ANN001, ANN202
            return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    data_frame = frame(train_X)
    data_frame[schema.target] = train_y
    data = dice_ml.Data(dataframe=data_frame, continuous_features=continuous, outcome_name=schema.target)
    explainer = dice_ml.Dice(data, dice_ml.Model(model=Wrapped(), backend="sklearn"), method=method)

    def run(model_, reference, x, constraints):  # noqa: ANN001, ANN202
        vary = [f.name for f in schema.features if not constraints.is_frozen(schema, f.name) and not np.isnan(x[schema.index(f.name)])]
        permitted = {}
        for f in schema.features:
            if f.name not in vary:
                continue
            direction = constraints.direction(schema, f.name)
            j = schema.index(f.name)
            if f.kind in (Kind.BINARY, Kind.CATEGORICAL):
                if f.kind == Kind.BINARY and direction == Direction.DECREASE:
                    permitted[f.name] = [str(v) for v in range(0, int(x[j]) + 1)]
                continue
            low, high = float(np.nanmin(train_X[:, j])), float(np.nanmax(train_X[:, j]))  # dice-ml refuses ranges beyond its data
            if direction == Direction.DECREASE:
                high = min(high, x[j])
            if direction == Direction.INCREASE:
                low = max(low, x[j])
            permitted[f.name] = [low, high]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = explainer.generate_counterfactuals(frame(x[None]), total_CFs=k, desired_class="opposite",
                                                            features_to_vary=vary, permitted_range=permitted, verbose=False)
            except UserConfigValidationException:  # dice-ml's way of saying "none found": no coverage
                return []
        cfs = result.cf_examples_list[0].final_cfs_df
        if cfs is None or len(cfs) == 0:
            return []
        return [np.where(np.isnan(x), x, v) for v in cfs[schema.names].astype(float).to_numpy()]

    return run
