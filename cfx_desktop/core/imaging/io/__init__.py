"""Reading images: PNG / JPEG / TIFF / DICOM (codecs, DICOMDIR trees), their headers, and measurements in mm.

No names are handed on here: import the module that holds them (the import graph stays explicit)."""
