"""Reports a reader can file: a document model (`document`), its PDF (`pdf`) and its JSON sidecar.

Qt-free, so the command line writes the same report as the app (`cfx-desktop report-patient`, `report-image`).
"""
