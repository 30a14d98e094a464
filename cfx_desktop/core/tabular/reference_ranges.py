"""The range a treatment aims at, for the treatment targets an inferred schema knows by name, with the unit read
from the column's values.

Why: a one-way rule alone lets a suggestion lower a glucose of 180 mg/dL to 56 (hypoglycaemia), lower a
creatinine of 1.0 that nobody treats, or raise a normal sodium. A treatment aims at a range and stops there
(`Feature.direction_bounds`), so an inferred treatment target gets one wherever the column's values say which unit
they are in. The same number means different things in mg/dL and mmol/L, so a range is proposed only when the
column's median fits exactly one unit's span; otherwise the tag says so and the user sets the range in the editor.
Ranges are adult figures from the guideline named with each; the schema editor shows and edits them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from cfx_desktop.core.tabular.column_names import as_words, word_starts
from cfx_desktop.core.tabular.schema import Actionability, Direction, Feature, Mutability


@dataclass(frozen=True)
class Unit:
    unit: str
    target: tuple[float, float]  # the treatment's target range in this unit
    medians: tuple[float, float]  # where a cohort's median lies when the column is in this unit (a wide, loose span)


@dataclass(frozen=True)
class Analyte:
    pattern: re.Pattern[str]
    what: str
    units: tuple[Unit, ...]
    source: str
    direction: Direction | None = None  # replaces the name rule's (sodium: toward normal); None keeps it


MMHG_SYSTOLIC = Unit("mmHg", (120.0, 130.0), (95.0, 200.0))
MMHG_DIASTOLIC = Unit("mmHg", (70.0, 80.0), (40.0, 95.0))
BP_SOURCE = "ESC/ESH 2018: a treated pressure of 120-130 over 70-80 mmHg, not lower"

# the first analyte whose pattern matches decides: the specific names before the general ones ("hdl_cholesterol",
# "non_hdl", "hemoglobin_a1c" and "diastolic_bp" before cholesterol, haemoglobin and blood pressure)
ANALYTES = (
    Analyte(word_starts("sodium"), "sodium", (Unit("mmol/L", (135.0, 145.0), (110.0, 170.0)),),
            "the adult reference interval: hyponatraemia is corrected into it, never past it", Direction.TOWARD_NORMAL),
    Analyte(word_starts("potassium"), "potassium", (Unit("mmol/L", (3.5, 5.0), (2.0, 8.0)),),
            "the adult reference interval: a low or high potassium is corrected into it", Direction.TOWARD_NORMAL),
    Analyte(word_starts("hba1c", "a1c", "glycat", "glycosyl"), "HbA1c",
            (Unit("%", (6.5, 7.0), (3.5, 16.0)), Unit("mmol/mol", (48.0, 53.0), (17.0, 150.0))),
            "ADA 2024 glycaemic target, below 7 % or 53 mmol/mol, and 6.5 % where that is safe"),
    Analyte(word_starts("glu"), "glucose", (Unit("mg/dL", (80.0, 130.0), (60.0, 400.0)), Unit("mmol/L", (4.4, 7.2), (3.0, 22.0))),
            "ADA 2024 pre-meal target for diabetes, 80-130 mg/dL or 4.4-7.2 mmol/L: lowered toward it, never into "
            "hypoglycaemia"),
    Analyte(word_starts("non_?hdl", "nonhdl"), "non-HDL cholesterol",
            (Unit("mg/dL", (85.0, 130.0), (60.0, 350.0)), Unit("mmol/L", (2.2, 3.4), (1.5, 9.0))),
            "ESC/EAS 2019: 30 mg/dL or 0.8 mmol/L above the LDL goals"),
    Analyte(word_starts("hdl"), "HDL cholesterol", (Unit("mg/dL", (40.0, 60.0), (20.0, 120.0)), Unit("mmol/L", (1.0, 1.55), (0.5, 3.0))),
            "NCEP ATP III: low below 40 mg/dL or 1.0 mmol/L, protective from 60 or 1.55"),
    Analyte(word_starts("ldl"), "LDL cholesterol", (Unit("mg/dL", (55.0, 100.0), (40.0, 300.0)), Unit("mmol/L", (1.4, 2.6), (1.0, 7.5))),
            "ESC/EAS 2019 goals: below 100 mg/dL or 2.6 mmol/L at moderate risk, 55 or 1.4 at very high risk"),
    Analyte(word_starts("trig", "tryg"), "triglycerides", (Unit("mg/dL", (50.0, 150.0), (40.0, 800.0)), Unit("mmol/L", (0.6, 1.7), (0.3, 9.0))),
            "NCEP ATP III: normal below 150 mg/dL or 1.7 mmol/L; the foot of the usual reference interval, 50 or 0.6, as the floor"),
    Analyte(word_starts("chol"), "total cholesterol", (Unit("mg/dL", (150.0, 200.0), (100.0, 400.0)), Unit("mmol/L", (3.9, 5.2), (2.5, 10.0))),
            "NCEP ATP III: desirable below 200 mg/dL or 5.2 mmol/L; 150 or 3.9 as a floor, since lipid therapy aims at LDL"),
    Analyte(word_starts("bmi", "body_?mass"), "BMI", (Unit("kg/m²", (18.5, 25.0), (15.0, 60.0)),),
            "WHO: a normal weight is a BMI of 18.5-25 kg/m²; lowered toward it, never into underweight"),
    Analyte(word_starts("systolic", "sbp", "ap_hi"), "systolic blood pressure", (MMHG_SYSTOLIC,), BP_SOURCE),
    Analyte(word_starts("diastolic", "dbp", "ap_lo"), "diastolic blood pressure", (MMHG_DIASTOLIC,), BP_SOURCE),
    # a pressure the name does not call systolic or diastolic: the values tell (a diastolic median is below 95)
    Analyte(word_starts("bp(?!m)", "trestbps", "pressure"), "blood pressure", (MMHG_SYSTOLIC, MMHG_DIASTOLIC), BP_SOURCE),
    Analyte(word_starts("creatinine"), "creatinine", (Unit("mg/dL", (0.6, 1.3), (0.3, 8.0)), Unit("µmol/L", (53.0, 115.0), (30.0, 700.0))),
            "the adult interval of enzymatic assays, women 0.6-1.1 and men 0.7-1.3 mg/dL, their union: a raised "
            "value is brought down toward it, a normal one is not treated"),
    Analyte(word_starts("ejection", "lvef"), "ejection fraction", (Unit("%", (50.0, 70.0), (10.0, 80.0)), Unit("", (0.5, 0.7), (0.1, 0.8))),
            "ESC 2021: therapy aims to improve a reduced ejection fraction, below 50 %; 70 % is the top of the normal range"),
    Analyte(word_starts("ha?emoglobin"), "haemoglobin",
            (Unit("g/dL", (12.0, 17.5), (6.0, 20.0)), Unit("g/L", (120.0, 175.0), (60.0, 200.0)),
             Unit("mmol/L", (7.4, 10.9), (3.7, 12.4))),
            "WHO: anaemia below 12 g/dL in women and 13 in men; 17.5 as the top of the adult range"),
)


@dataclass(frozen=True)
class RangeProposal:
    analyte: Analyte
    median: float
    fits: tuple[Unit, ...]  # every unit whose span holds the median: one is a proposal, none or several is not

    @property
    def unit(self) -> Unit | None:
        return self.fits[0] if len(self.fits) == 1 else None

    def words(self) -> str:
        """What the tag's source adds: the range and why, or why there is none."""
        if self.unit is not None:
            unit = f" {self.unit.unit}" if self.unit.unit else ""
            low, high = self.unit.target
            return (f"target range {low:g}-{high:g}{unit}, the unit read from its values (median {self.median:.3g}): "
                    f"{self.analyte.source}")
        said = ("no unit this app knows" if not self.fits else
                "more than one unit (" + ", ".join(u.unit or "a fraction" for u in self.fits) + ")")
        return (f"no target range: its values (median {self.median:.3g}) fit {said} of {self.analyte.what}; set its "
                "normal range in the editor")


def analyte_of(name: str) -> Analyte | None:
    words = as_words(name)
    return next((a for a in ANALYTES if a.pattern.search(words)), None)


def propose(name: str, numbers: np.ndarray) -> RangeProposal | None:
    """The range for a treatment target called ``name`` whose values are ``numbers`` (None: no analyte known)."""
    analyte = analyte_of(name)
    if analyte is None or numbers.size == 0:
        return None
    median = float(np.median(numbers))
    return RangeProposal(analyte, median, tuple(u for u in analyte.units if u.medians[0] <= median <= u.medians[1]))


def with_target_range(feature: Feature, numbers: np.ndarray) -> Feature:
    """``feature`` with the target range (and unit) of its analyte, where it is a changeable treatment target
    and its values tell the unit; its tag's source says which, or why there is none. Anything else unchanged."""
    if feature.mutability != Mutability.MUTABLE or feature.actionability != Actionability.TREATMENT_TARGET:
        return feature
    proposal = propose(feature.name, numbers)
    if proposal is None:
        return feature
    source = f"{feature.tag_source}; {proposal.words()}"
    unit = proposal.unit
    if unit is None:
        return replace(feature, tag_source=source)
    direction = proposal.analyte.direction or feature.direction
    if direction == Direction.ANY:  # a range only says where a one-way or toward-normal rule stops
        return replace(feature, tag_source=source)
    return replace(feature, normal_range=unit.target, unit=feature.unit or unit.unit, direction=direction, tag_source=source)


def zero_means_unmeasured(name: str, numbers: np.ndarray) -> RangeProposal | None:
    """The analyte, where the column holds zeros that cannot be measurements: no glucose, blood pressure, BMI or
    sodium is 0, so a file that has them (Pima's diabetes table codes "not measured" so) means a missing value,
    which the models then fill as any other instead of learning from an impossible patient. Only where the other
    values fit one unit of the analyte, so that the column is known to be what its name says."""
    zeros = numbers == 0
    if not zeros.any() or zeros.all():
        return None
    proposal = propose(name, numbers[~zeros])
    return proposal if proposal is not None and proposal.unit is not None else None
