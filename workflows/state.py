"""The graph's state: small and JSON-native (ids, hashes, statuses, counters).

Paper text, blueprints and code live in the session directory; the state only says
where the run is, so checkpoints stay small and survive code changes.
"""

from __future__ import annotations

from typing import TypedDict


class RunState(TypedDict, total=False):
    session_id: str
    status: str
    """created → ingested → distilled → planned → implementing → verified → done / failed."""
    engine: str
    title: str
    document_sha: str
    blueprint_sha: str
    instructions_total: int
    instructions_done: int
    instructions_failed: int
    instructions_unimplemented: int
    current_instruction: str
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
