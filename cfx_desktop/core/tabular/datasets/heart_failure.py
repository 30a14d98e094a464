"""Heart failure clinical records (Chicco & Jurman 2020): 299 patients, death during follow-up.

Offered with and without ``time``, the follow-up period: it is known only after the outcome and strongly tied to
it, so the app's default variant leaves it out; the with-time models are shipped for comparison with the
literature.
"""

from __future__ import annotations

from cfx_desktop.core.tabular.datasets.base import TabularDataset, Variant, register
from cfx_desktop.core.tabular.schema import Actionability, Direction, Feature, Kind, Mutability, Schema, binary_feature

HEART_FAILURE = Schema(
    name="heart-failure",
    title="Heart failure clinical records",
    target="DEATH_EVENT",
    target_label="death during follow-up",
    outcome_words=("survival", "death"),
    features=(
        Feature("age", "Age", Kind.INTEGER, 18, 110, "years", mutability=Mutability.IMMUTABLE,
                description="Age of the patient"),
        binary_feature("anaemia", "Anaemia", "Decrease of red blood cells or haemoglobin", direction=Direction.DECREASE),
        Feature("creatinine_phosphokinase", "Creatinine phosphokinase", Kind.INTEGER, 10, 10000, "mcg/L", step=10,
                description="Level of the CPK enzyme in the blood"),
        binary_feature("diabetes", "Diabetes", "Whether the patient has diabetes (locked by default: rarely reversible)",
                mutability=Mutability.LOCKABLE),
        Feature("ejection_fraction", "Ejection fraction", Kind.INTEGER, 5, 85, "%",
                description="Percentage of blood leaving the heart at each contraction"),
        binary_feature("high_blood_pressure", "High blood pressure", "Whether the patient has hypertension",
                direction=Direction.DECREASE),
        Feature("platelets", "Platelets", Kind.CONTINUOUS, 10_000, 1_000_000, "per µL", step=1000,
                decimals=0, description="Platelets in the blood, per microlitre: the dataset's unit, kiloplatelets/mL, "
                "is the same number (262,000 per µL = 262 x 10^9/L), written the way a blood count is read"),
        Feature("serum_creatinine", "Serum creatinine", Kind.CONTINUOUS, 0.2, 15.0, "mg/dL", step=0.1, decimals=2,
                description="Level of serum creatinine in the blood"),
        Feature("serum_sodium", "Serum sodium", Kind.INTEGER, 100, 160, "mEq/L",
                description="Level of serum sodium in the blood"),
        Feature("sex", "Sex", Kind.BINARY, 0, 1, mutability=Mutability.IMMUTABLE, categories=("female", "male"),
                description="Woman or man (0 = female, 1 = male in the CSV)"),
        binary_feature("smoking", "Smoking", "Whether the patient smokes (a counterfactual may only stop it)",
                direction=Direction.DECREASE),
        Feature("time", "Follow-up period", Kind.INTEGER, 1, 400, "days", mutability=Mutability.LOCKABLE,
                description="Follow-up period; not a patient characteristic, and only known afterwards"),
    ),
    example={
        "age": 65, "anaemia": 0, "creatinine_phosphokinase": 250, "diabetes": 0, "ejection_fraction": 25,
        "high_blood_pressure": 1, "platelets": 262000, "serum_creatinine": 1.9, "serum_sodium": 133,
        "sex": "male", "smoking": 0, "time": 100,
    },
    example_label="Example patient (not a real person): 65-year-old man, low ejection fraction, raised creatinine",
)

A, T, M, I = Actionability.ACTIONABLE, Actionability.TREATMENT_TARGET, Actionability.MARKER, Actionability.IMMUTABLE
HEART_FAILURE = HEART_FAILURE.with_annotations({
    "age": {"actionability": I},
    "sex": {"actionability": I},
    "anaemia": {"actionability": T, "actionability_note": "treated (iron, transfusion) in heart failure: ESC 2021 "
                "heart-failure guideline, section on iron deficiency and anaemia"},
    "creatinine_phosphokinase": {
        "actionability": M, "actionability_note": "a marker of muscle or heart-muscle damage; nobody treats a patient "
        "toward a CPK value", "precision": 10.0,
        "precision_note": "about 4% analytical CV at 250 mcg/L (typical enzymatic CK assay data sheets)"},
    "diabetes": {"actionability": M, "actionability_note": "a diagnosis; treatment changes glycaemic control, not "
                 "the diagnosis"},
    "ejection_fraction": {
        "actionability": T, "actionability_note": "guideline-directed therapy aims to improve a reduced LVEF (ESC "
        "2021 heart-failure guideline: HFrEF / HFimpEF); no treatment lowers it, so a suggestion may only raise it, "
        "and only while it is below 50 % (an EF of 50 % or more is not reduced, and no therapy aims to raise it), "
        "at most to 70 % (the top of the normal range, 52-72 % in men and 54-74 % in women by ASE/EACVI 2015)",
        "direction": Direction.INCREASE, "normal_range": (50.0, 70.0), "feasible_change": 20.0,
        "feasible_note": "20 points, an outer limit (the feasible change is the largest change a treatment could "
        "bring about; smaller changes cost less and come first): guideline therapy raised the median LVEF by about 9 "
        "points in a year (PROVE-HF, Januzzi et al. 2019, 28 -> 38 %), 10 points already define heart failure with "
        "improved ejection fraction (universal definition, Bozkurt et al. 2021), and rises of 15-20 points are the "
        "large responses (super-responders to therapy or resynchronisation); the data's default (the central 80 % of "
        "patients, 25-60 %: 35 points) would offer 20 -> 55 %, which no cardiologist expects from a treatment",
        "precision": 1.0,
        "precision_note": "reported in whole percent; 1 point (echocardiographic test-retest spread is wider, "
        "about 5 points: this is the reporting precision the data carries)"},
    "high_blood_pressure": {"actionability": M, "actionability_note": "a diagnosis (hypertension), as diabetes is: "
                            "treatment controls the blood pressure, it does not take the diagnosis away, so 'without "
                            "high blood pressure' is not something a treatment achieves"},
    "platelets": {"actionability": M, "actionability_note": "a blood count nobody treats toward a value in heart "
                  "failure", "precision": 10_000.0,
                  "precision_note": "about 4% CV of automated platelet counts at 250,000/mL (ICSH guidance)"},
    "serum_creatinine": {"actionability": T, "actionability_note": "kidney function is managed in heart failure "
                         "(cardio-renal care) to bring a raised creatinine down toward the reference range, never to "
                         "lower a normal one, so a suggestion may only bring it toward 0.6-1.3 mg/dL (the adult range "
                         "of enzymatic assays, women 0.6-1.1 and men 0.7-1.3: their union, so that no patient's normal "
                         "value is treated)", "direction": Direction.TOWARD_NORMAL, "normal_range": (0.6, 1.3),
                         "feasible_share": 0.5,
                         "feasible_note": "half of the present value (and at most the data's central-80 % span), an "
                         "outer limit: creatinine changes in proportion to kidney function, and full recovery from an "
                         "acute rise to twice the baseline (KDIGO 2012 stage 2 acute kidney injury, as in cardio-renal "
                         "congestion) is a fall by half (from stage 1, 1.5 times, a fall by a third); the commoner "
                         "cause in heart failure, chronic kidney disease, does not reverse, so a larger fall describes "
                         "a different patient",
                         "precision": 0.1,
                         "precision_note": "0.1 mg/dL: about the analytical SD of enzymatic creatinine near 1 mg/dL"},
    "serum_sodium": {"actionability": T, "actionability_note": "hyponatraemia is corrected (fluid restriction, "
                     "diuretic adjustment) toward the reference range 135-145 mEq/L, never beyond it, and a normal "
                     "sodium is not treated, so a suggestion may only bring it toward that range",
                     "direction": Direction.TOWARD_NORMAL, "normal_range": (135.0, 145.0), "precision": 1.0,
                     "precision_note": "1 mEq/L: reporting resolution and about the ion-selective electrode's SD"},
    "smoking": {"actionability": A, "actionability_note": "the patient can stop smoking"},
    "time": {"actionability": M, "actionability_note": "the follow-up period, known only afterwards"},
})
HEART_FAILURE_NO_TIME = HEART_FAILURE.without("time")

WHY_NO_TIME = (
    "`time` is the follow-up period, known only after the outcome and strongly tied to it (patients who died "
    "were followed for less time). It is not a patient characteristic and cannot be acted on, so the app's "
    "default model leaves it out; the with-time models are shipped for comparison with the literature."
)

DATASET = register(TabularDataset(
    key="heart-failure",
    title="Heart failure clinical records",
    dev_file="heart_failure_clinical_records_dataset.csv",
    licence="CC BY 4.0",
    attribution="Heart failure clinical records: Chicco D, Jurman G (2020) BMC Med Inform Decis Mak 20:16; "
                "original data Ahmad T et al. (2017); UCI Machine Learning Repository dataset 519.",
    variants=(
        Variant(HEART_FAILURE_NO_TIME, "Heart failure, without follow-up time (default)", ("time",), WHY_NO_TIME,
                "Heart failure without `time` (the app's default)",
                {"logistic": 0.766, "L1-logistic": 0.757, "MLP 64-32-16": 0.751, "random forest": 0.798}),
        Variant(HEART_FAILURE, "Heart failure, with follow-up time", (), None, "Heart failure, 12 features including `time`",
                {"logistic": 0.872, "L1-logistic": 0.858, "MLP 64-32-16": 0.862, "random forest": 0.909}),
    ),
))
