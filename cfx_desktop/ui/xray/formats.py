"""What the image tab opens (light: read by the main window before the imaging stack loads)."""

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.dcm *.dicom);;All files (*)"

# (menu text, XrayTab method, tip): File menu entries, listed before the tab's body (and torch) has loaded
FILE_ACTIONS = [
    ("Open from PACS...", "open_from_pacs",
     "Find a study on a configured PACS (DICOM or DICOMweb), retrieve it, and send the results back as DICOM SR"),
    ("New image model from folder...", "new_image_model",
     "Train a model on your own labelled images (one sub-folder per class): classifier, referee, autoencoder and guard"),
    ("Remove this image model...", "remove_current_model", "Delete the selected image model of yours (never the images)"),
]
