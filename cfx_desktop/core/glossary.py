"""The words a newcomer meets in the app, each explained once in plain language (Help > Glossary, tooltips).

Kept in core so the help, the tooltips and the reports say the same thing; no Qt here.
"""

from __future__ import annotations

GLOSSARY: dict[str, str] = {
    "counterfactual": "A what-if: the smallest change to the patient's values (or to the image) that would make the "
                      "model give the other answer. It describes the model, not the patient: it is not a treatment "
                      "plan, and it does not say the change would change the outcome.",
    "threshold": "The probability at which a model switches its answer. Each model has its own, chosen on validation "
                 "data to balance missed and false alarms, so p(death) = 0.71 can still mean 'predicted survival' "
                 "for a model whose threshold is 0.75.",
    "margin": "How far past its threshold a suggestion must move every model. A suggestion that lands just past the "
              "threshold can flip back with a small measurement error; the default margin is the shift measurement "
              "noise causes, measured on validation data.",
    "model set": "Twenty patient models (four architectures, five training runs each). A suggestion counts only if "
                 "the models it was not searched with agree; 'Holds for 18/20' says how many do.",
    "consensus": "The search requires every model of the consensus set (by default one per architecture) to give the "
                 "other answer, so a suggestion is not an accident of one network. When no feasible change does, "
                 "a suggestion that moves 3 of the 4 (the selected model among them) is shown as 'partial "
                 "agreement': less certain, and said so.",
    "MAD": "Median absolute deviation: how much a feature typically varies between patients. Distances count each "
           "change in MADs, so 10 mg/dL of sodium and 0.3 mg/dL of creatinine are compared fairly.",
    "LOF": "Local outlier factor: whether a suggested patient looks like the patients the model was trained on "
           "(typical) or unlike any of them (outlier). Outliers are shown but never offered to apply. When the "
           "patient already was one before any change, the row reads 'unusual patient' and the panel says so.",
    "kNN": "k nearest neighbours: the distance from a suggested patient to the most similar real patients of the "
           "reference cohort. Small = there are real patients like it.",
    "Shapley value": "How much one feature's value pushed this prediction up or down compared with a typical patient; "
                     "the bars add up to the whole difference. Additive models (NAM, Lasso) give exact values.",
    "Grad-CAM": "A heat map from the network's last convolutional layer: where in the image the evidence for the "
                "answer lies. Coarse, fast, and checked by the sanity checks.",
    "IG": "Integrated Gradients: adds up the model's sensitivity to each pixel along a path from a blank image to "
          "this one. Sharper than Grad-CAM, noisier.",
    "occlusion": "Covers one patch of the image at a time and measures how much the answer drops. Slow, but easy "
                 "to trust: it only uses the model's own outputs.",
    "sanity check": "A test of the heat map itself (Adebayo et al., 2018): randomize the model's weights or its "
                    "training labels; a map that does not change was not showing what the model learned.",
    "referee": "An independently trained image classifier that the counterfactual search never used. If the referee "
               "also changes its answer for the counterfactual image, the change is not a trick on one network; it "
               "is not proof that a radiologist would accept it (two networks can share a shortcut: see opacity sign).",
    "opacity sign": "Pneumonia shows as an opacity: lung that is brighter than it should be. Clearing it can only "
                    "darken the lung and adding it only brighten it. Beside each counterfactual image the app gives "
                    "the share of its change that runs the other way; over half, and it is mostly not an opacity "
                    "cleared or added, whatever the referee says.",
    "lung contrast": "How dark the lungs are against the tissue around them (mean brightness in the lung fields minus "
                     "that of a band around them), so that a brighter or darker exposure cancels. A counterfactual "
                     "whose lungs fall outside the central 95 % of real training films of its target class is unlike "
                     "them: darker than nearly every real normal film is over-lucent, not cleared; still darker than "
                     "nearly every real pneumonia film, no opacity as dense as a real one was added. Either turns its "
                     "verdict amber.",
    "calibration": "Whether a model's probabilities can be taken at face value: of patients given p = 0.3, about 30 % "
                   "should have the event. Expected calibration error (ECE) and the Brier score measure it.",
    "guard": "A check before the image model answers: is this a chest radiograph like those it was trained on? "
             "If not, the prediction is withheld instead of a confident wrong answer.",
}


def lookup(term: str) -> str:
    """The definition of ``term`` (case-insensitive); KeyError names the known terms."""
    for key, text in GLOSSARY.items():
        if key.lower() == term.lower():
            return text
    raise KeyError(f"{term!r} is not in the glossary ({', '.join(GLOSSARY)})")
