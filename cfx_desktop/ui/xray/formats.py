"""What the image tab opens (light: read by the main window before the imaging stack loads)."""

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.dcm *.dicom);;All files (*)"
