"""What each tab's "What am I looking at?" pane says (by tab title, so a tab built later has its help at once)."""

from __future__ import annotations

from cfx_desktop.ui.help_pane import HelpTopic

PATIENT = HelpTopic(
    "Patient: why this prediction, and what would have to change?",
    [("Patient values", "the form on the left; the example is not a real person"),
     ("Model", "gives p(event); at or above its own threshold it predicts the event"),
     ("Why?", "bars: how far each value pushed p up (red) or down (blue)"),
     ("What would have to change", "the smallest changes that make every model of the consensus (or 3 of 4, marked 'partial agreement') give the other answer with a margin; where none does, changes that only reach the thresholds, marked 'no margin, fragile'"),
     ("Checked by 20 models", "'Holds for' counts the models that agree; most were never used by the search")],
    ["Change any value: the prediction, the bars and the suggestions update as you type.",
     "Tick Lock to keep a feature out of the suggestions; age and sex never change.",
     "Select a suggestion and press Enter (or Apply) to try it in the form; Ctrl+Z undoes it.",
     "File > Open (Ctrl+O) loads a CSV of your own patients into the cohort view; double-click a row.",
     "File > Export (Ctrl+E) writes a PDF report with a JSON sidecar.",
     "File > New dataset from CSV makes a dataset of your own: check the schema, train, explain.",
     "Suggestions are what-ifs about the models, not treatment advice, and not a diagnosis."],
    ["threshold", "counterfactual", "margin", "model set", "consensus", "Shapley value", "MAD", "LOF", "kNN", "calibration"],
)

XRAY = HelpTopic(
    "Chest X-ray: where is the evidence, and what would have to change?",
    [("Image", "PNG, JPEG, TIFF or DICOM; a folder or DICOMDIR opens as a list"),
     ("Guard", "is this a chest radiograph like the training images? If not, no answer"),
     ("CNN", "gives p(finding) against its threshold (the class words come from the model's card)"),
     ("Overlay", "where the evidence lies (Grad-CAM, IG or occlusion), checked by the sanity checks"),
     ("Counterfactual", "the image edited in its region (the lung fields for the shipped model) until the CNN changes "
                        "its answer"),
     ("Referee", "an independent CNN: does it see the change too?")],
    ["Open an image (Ctrl+O) or drop files or a folder on the window.",
     "Read the prediction at the right; the overlay shows where the model's evidence lies (O hides it).",
     "Press G to generate a counterfactual; the comparison shows original, counterfactual and difference.",
     "Trust a counterfactual only if the referee agrees, its change has an opacity's sign (darker toward normal) and "
     "its lungs stay within real films (green, not amber); trust an overlay only if it passes its sanity checks.",
     "M measures, A measures an angle, 1-9 choose a window preset, 0 shows pixels one to one.",
     "File > Export (Ctrl+E) writes a PDF report with a JSON sidecar.",
     "File > New image model from folder trains a model on your own labelled images (one folder per class)."],
    ["guard", "Grad-CAM", "IG", "occlusion", "sanity check", "counterfactual", "referee", "opacity sign", "lung contrast",
     "threshold"],
)

TOPICS = {"Patient": PATIENT, "Chest X-ray": XRAY}
