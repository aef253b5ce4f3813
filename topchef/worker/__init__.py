"""Turn a function ``parameters -> results`` into a worker for a TopChef service.

    from topchef.worker import worker

    @worker(service="Add One", job_registration_schema=..., job_result_schema=...)
    def add_one(parameters):
        return {"result": parameters["value"] + 1}

``topchef worker MODULE:add_one`` (or ``add_one.run(url)``) then claims the
service's jobs, runs them and reports their results until SIGTERM or SIGINT.
"""

from topchef.worker._definition import JobContext, Worker, current_job, worker
from topchef.worker._runtime import RunOptions, WorkerRunner, WorkerSetupError, failure_report

__all__ = [
    "JobContext",
    "RunOptions",
    "Worker",
    "WorkerRunner",
    "WorkerSetupError",
    "current_job",
    "failure_report",
    "worker",
]
