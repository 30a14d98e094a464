"""Generated CSVs for the "your own data" tests: a cohort with every kind of column, and broken variants."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def cohort_csv(path: Path, n: int = 300, seed: int = 0, missing_every: int = 3) -> Path:
    """An outcome ("sick"/"well") driven by age, blood pressure and smoking; plus an ID, free text, a constant,
    and cholesterol missing in every ``missing_every``-th row."""
    rng = np.random.default_rng(seed)
    age = rng.integers(30, 90, n)
    bp = rng.normal(130, 15, n).round(1)
    chol = rng.normal(200, 30, n).round(0)
    smoker = rng.choice(["yes", "no"], n)
    sex = rng.choice(["F", "M"], n)
    risk = 0.05 * (age - 60) + 0.04 * (bp - 130) + (smoker == "yes") * 1.5
    outcome = np.where(rng.random(n) < 1 / (1 + np.exp(-risk)), "sick", "well")
    lines = ["patient_id,age,sex,bp,chol,smoker,notes,site,outcome"]
    for i in range(n):
        c = "" if missing_every and i % missing_every == 0 else f"{chol[i]:g}"
        lines.append(f"{1000 + i},{age[i]},{sex[i]},{bp[i]:g},{c},{smoker[i]},seen on day {i} by dr {i % 7},A,{outcome[i]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
