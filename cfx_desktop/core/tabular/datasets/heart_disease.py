"""Heart Failure Prediction Dataset (heart.csv, fedesoriano 2021): 918 patients, heart disease yes/no.

Models are trained on the ml4h2 train/validation split only; its test split is never read.
"""

from __future__ import annotations

from cfx_desktop.core.tabular.datasets.base import TabularDataset, Variant, register
from cfx_desktop.core.tabular.schema import Actionability, Direction, Feature, Kind, Mutability, Schema

HEART_DISEASE = Schema(
    name="heart-disease",
    title="Heart disease (heart.csv)",
    target="HeartDisease",
    target_label="heart disease",
    outcome_words=("no heart disease", "heart disease"),
    features=(
        Feature("Age", "Age", Kind.INTEGER, 18, 100, "years", mutability=Mutability.IMMUTABLE),
        Feature("Sex", "Sex", Kind.BINARY, 0, 1, categories=("F", "M"), category_labels=("female", "male"),
                mutability=Mutability.IMMUTABLE),
        Feature("ChestPainType", "Chest pain type", Kind.CATEGORICAL, categories=("TA", "ATA", "NAP", "ASY"),
                category_labels=("typical angina", "atypical angina", "non-anginal pain", "asymptomatic"),
                mutability=Mutability.LOCKABLE,
                description="TA typical angina, ATA atypical angina, NAP non-anginal pain, ASY asymptomatic"),
        Feature("RestingBP", "Resting blood pressure", Kind.INTEGER, 60, 250, "mm Hg", zero_is_missing=True),
        Feature("Cholesterol", "Serum cholesterol", Kind.INTEGER, 60, 700, "mg/dL", zero_is_missing=True,
                description="0 in heart.csv means not measured and is treated as missing"),
        Feature("FastingBS", "Fasting blood sugar > 120 mg/dL", Kind.BINARY, 0, 1),
        Feature("RestingECG", "Resting ECG", Kind.CATEGORICAL, categories=("Normal", "ST", "LVH"),
                category_labels=("normal", "ST-T wave abnormality", "left ventricular hypertrophy"),
                mutability=Mutability.LOCKABLE),
        Feature("MaxHR", "Maximum heart rate", Kind.INTEGER, 50, 230, "bpm"),
        Feature("ExerciseAngina", "Exercise-induced angina", Kind.BINARY, 0, 1, categories=("N", "Y"),
                mutability=Mutability.LOCKABLE),
        Feature("Oldpeak", "ST depression (oldpeak)", Kind.CONTINUOUS, -3.0, 7.0, "mm", step=0.1, decimals=1),
        Feature("ST_Slope", "ST slope", Kind.CATEGORICAL, categories=("Up", "Flat", "Down"),
                category_labels=("upsloping", "flat", "downsloping"), mutability=Mutability.LOCKABLE),
    ),
    example={
        "Age": 58, "Sex": "M", "ChestPainType": "ASY", "RestingBP": 140, "Cholesterol": 230, "FastingBS": 0,
        "RestingECG": "Normal", "MaxHR": 120, "ExerciseAngina": "Y", "Oldpeak": 1.5, "ST_Slope": "Flat",
    },
    example_label="Example patient (not a real person): 58-year-old man with exercise angina",
)

A, T, M, I = Actionability.ACTIONABLE, Actionability.TREATMENT_TARGET, Actionability.MARKER, Actionability.IMMUTABLE
HEART_DISEASE = HEART_DISEASE.with_annotations({
    "Age": {"actionability": I},
    "Sex": {"actionability": I},
    "ChestPainType": {"actionability": M, "actionability_note": "a symptom the patient reports"},
    "RestingBP": {"actionability": T, "actionability_note": "blood pressure is treated toward a target by lowering "
                  "it, so a suggestion may only lower it, and only while it is above 130 mm Hg, never below 120 (ESC/ESH "
                  "2018: a treated systolic pressure of 120-130 mm Hg, not lower; a pressure already at or under the "
                  "target is no treatment target)",
                  "direction": Direction.DECREASE, "normal_range": (120.0, 130.0), "precision": 3.0,
                  "precision_note": "3 mm Hg: the AAMI/ISO 81060-2 accuracy requirement for blood-pressure devices is "
                  "a mean error within 5 mm Hg"},
    "Cholesterol": {"actionability": T, "actionability_note": "lipid-lowering therapy targets cholesterol (ESC/EAS "
                    "dyslipidaemia guidelines), so a suggestion may only lower it", "direction": Direction.DECREASE,
                    "precision": 6.0,
                    "precision_note": "6 mg/dL: about 3% analytical CV at 200 mg/dL (NCEP performance goal)"},
    "FastingBS": {"actionability": T, "actionability_note": "glycaemic control lowers fasting blood sugar (a "
                  "suggestion may only clear the finding)", "direction": Direction.DECREASE},
    "RestingECG": {"actionability": M, "actionability_note": "an ECG finding"},
    "MaxHR": {"actionability": M, "actionability_note": "an exercise-test result, bounded by age; not a treatment "
              "target", "precision": 2.0, "precision_note": "2 bpm: ECG heart-rate reading resolution"},
    "ExerciseAngina": {"actionability": M, "actionability_note": "a symptom during the exercise test"},
    "Oldpeak": {"actionability": M, "actionability_note": "an exercise-ECG finding", "precision": 0.1,
                "precision_note": "0.1 mm: the reading resolution"},
    "ST_Slope": {"actionability": M, "actionability_note": "an exercise-ECG finding"},
})

DATASET = register(TabularDataset(
    key="heart-disease",
    title="Heart disease",
    dev_file="ml4h2_task1_train_val_split.csv",
    licence="ODbL v1.0",
    attribution="Heart Failure Prediction Dataset, fedesoriano (2021), Kaggle, from the UCI Cleveland, Hungarian, "
                "Switzerland, Long Beach VA and Statlog heart sets; train/validation split of ArthGV/ml4h_2.",
    variants=(
        Variant(HEART_DISEASE, "Heart disease", (), None, "Heart disease (heart.csv; ml4h2 train/validation split only)",
                {"logistic": 0.921, "L1-logistic": 0.922, "MLP 64-32-16": 0.921, "random forest": 0.924}),
    ),
))
