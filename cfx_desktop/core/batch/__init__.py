"""Batch explanation: many patients or images into one folder of JSON lines, resumable, on this machine or on a
Dask cluster (`runner` keeps the folder, `dask_cluster` runs chunks as Dask tasks, `patients` and `images` say how
one chunk is explained)."""
