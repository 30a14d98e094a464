"""The Patient tab: live form, prediction, counterfactual suggestions, attributions, cohort and export."""
