"""A worker for the Add One service: it adds one to the integer in each job.

Run it from this directory, against a server on http://127.0.0.1:5000:

    topchef worker add_one_worker:add_one

It creates the service "Add One" if no service has that name yet.
"""

from topchef.worker import worker

PARAMETERS_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "properties": {"value": {"type": "integer", "description": "The number to add one to"}},
    "required": ["value"],
}
RESULTS_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "properties": {"result": {"type": "integer", "description": "The value plus one"}},
    "required": ["result"],
}


@worker(service="Add One", description="Adds one to a given number",
        job_registration_schema=PARAMETERS_SCHEMA, job_result_schema=RESULTS_SCHEMA)
def add_one(parameters: dict[str, int]) -> dict[str, int]:
    return {"result": parameters["value"] + 1}
