"""Reading-room integration: studies from a PACS (DIMSE with pynetdicom, DICOMweb with dicomweb-client) and the
app's results back to it as DICOM (a Comprehensive SR and Secondary Capture images built with highdicom).

Qt-free like `core`: the CLI (`cfx-desktop pacs ...`), the tests and the X-ray tab's study browser all call the
same functions, and the tab runs them in the worker pool. Nothing here opens a connection unless a peer is given.
"""
