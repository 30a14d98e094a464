"""The only bridge between Qt and core: runs core callables on a QThreadPool and reports through signals."""

from cfx_desktop.workers.pool import Job, JobError, LatestOnly, WorkerPool

__all__ = ["Job", "JobError", "LatestOnly", "WorkerPool"]
