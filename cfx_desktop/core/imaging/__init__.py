"""Chest X-ray side of core: image IO (incl. DICOM), preprocessing, CNNs, saliency, sanity checks, counterfactuals."""
