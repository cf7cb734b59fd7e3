"""Schemathesis fuzzes every operation of the served OpenAPI document: no input may cause a 5xx."""

from __future__ import annotations

import time

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from server_helpers import Api

EXAMPLES_PER_OPERATION = 25
TIME_BUDGET_S = 45.0  # per backend


def test_openapi_fuzz_finds_no_server_errors(any_tracking_server) -> None:
    tracking_server = any_tracking_server
    api = Api(tracking_server)
    task = api.task("fuzz target", "fuzz")
    api.post(f"/tasks/{task['id']}/events", json={"events": [
        {"type": "scalars", "metric": "loss", "variant": "", "iterations": [0, 1, 2], "values": [1, 2, 3]}]})
    schema = schemathesis.openapi.from_url(f"{tracking_server.api}/openapi.json")
    schema.config.generation.update(modes=list(schemathesis.GenerationMode))
    failures: list[str] = []
    calls = 0
    statuses: dict[int, int] = {}
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 25
    for operation in operations:
        if time.monotonic() - started > TIME_BUDGET_S:
            break

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def exercise(case) -> None:  # type: ignore[no-untyped-def]
            nonlocal calls
            # Half the cases aim at a real task so the handlers get past the 404.
            if case.path_parameters and "task_id" in case.path_parameters and calls % 2:
                case.path_parameters["task_id"] = task["id"]
            calls += 1
            response = case.call(base_url=tracking_server.url, headers=tracking_server.headers, timeout=15)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

        exercise()
    print("fuzz calls", calls, "statuses", statuses)
    assert calls > 300 and statuses.get(200, 0) > 20, statuses
    assert not failures, "\n".join(failures[:10]) + "\n" + tracking_server.log_tail(3000)
