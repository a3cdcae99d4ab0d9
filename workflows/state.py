"""The graph's state: small and JSON-native (ids, hashes, statuses, counters).

Paper text, blueprints and code live in the session directory; the state only says
where the run is, so checkpoints stay small and survive code changes.
"""

from __future__ import annotations

from typing import Any, TypedDict


class RunState(TypedDict, total=False):
    session_id: str
    status: str
    """created → ingested → distilled → planned → implementing → verified → done / failed."""
    engine: str
    title: str
    pages: int
    verify_runs: list[str]
    tests_passed: int
    tests_failed: int
    tests_reason: str
    fix_iterations: int
    fix_stalled: bool
    """The last fix iteration changed nothing (no acceptable patch): stop fixing."""
    best_commit: str
    best_passed: int
    stop_reason: str
    benchmark: str
    """`done`, or `skipped: <reason>`."""
    bench_smoke: str
    """The last verify's benchmark smoke check: ``passed|failed: <script> (<run>)``."""
    bench_smoke_failed_run: str
    """The run id of the last verify's smoke check when it failed (for the fixer), else ``""``."""


MIRRORED = ("title", "pages", "fix_iterations", "stop_reason", "benchmark", "bench_smoke")
"""State fields copied into ``session.toml`` as they are (for ``list``, ``inspect`` and
the report), besides ``tests`` and ``stage``."""


def session_fields(node: str, update: dict[str, Any]) -> dict[str, Any]:
    """What ``session.toml`` records after ``node`` returned ``update``: the one place
    where the run's state is mirrored into the session (the runner records only the
    run's lifecycle: running, stopped, failed, done)."""
    fields: dict[str, Any] = {key: update[key] for key in MIRRORED if key in update}
    if "tests_passed" in update:
        tests = {
            "passed": update["tests_passed"],
            "failed": update.get("tests_failed", 0),
            "reason": update.get("tests_reason", ""),
        }
        if update.get("verify_runs"):
            tests["run"] = update["verify_runs"][-1]
        fields["tests"] = tests
    fields["stage"] = node
    return fields
