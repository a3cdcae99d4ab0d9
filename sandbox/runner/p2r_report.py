"""The pytest plugin of the runner: one JSON line per collection and test report.

Loaded with ``-p p2r_report`` before any conftest or test module is imported; writes to
the pipe named by ``P2R_REPORT_FD`` (removed from the environment at once). It sends
what pytest decided, nothing more; the host cross-checks the lines.
"""

from __future__ import annotations

import json
import os
from typing import Any

_FD = int(os.environ.pop("P2R_REPORT_FD", "-1"))
_OUT = os.fdopen(_FD, "w", encoding="utf-8", closefd=True) if _FD >= 0 else None
_LONGREPR_CAP = 20_000
_PROPERTY_CAP = 1 << 20
"""Characters of one test's ``record_property`` values forwarded, all together."""


def _send(record: dict[str, Any]) -> None:
    if _OUT is None:
        return
    _OUT.write(json.dumps(record) + "\n")
    _OUT.flush()


def _text(value: object) -> str:
    return str(value)[:_LONGREPR_CAP] if value else ""


def _message(report: Any) -> str:
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    if crash is not None:
        return str(getattr(crash, "message", ""))[:2000]
    longrepr = getattr(report, "longrepr", None)
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])[:2000]
    return _text(longrepr).strip().splitlines()[-1][:2000] if longrepr else ""


def _properties(report: Any) -> dict[str, str]:
    """The call phase's ``record_property`` pairs as strings, within ``_PROPERTY_CAP``."""
    kept: dict[str, str] = {}
    room = _PROPERTY_CAP
    for pair in getattr(report, "user_properties", None) or ():
        try:
            name, value = (str(part) for part in pair)
        except (TypeError, ValueError):
            continue
        if len(name) + len(value) > room:
            break
        kept[name] = value
        room -= len(name) + len(value)
    return kept


def pytest_collection_finish(session: Any) -> None:
    _send({"kind": "collected", "ids": [item.nodeid for item in session.items]})


def pytest_collectreport(report: Any) -> None:
    if report.failed or report.skipped:
        _send(
            {
                "kind": "collect",
                "nodeid": report.nodeid,
                "outcome": report.outcome,
                "message": _message(report),
                "longrepr": _text(report.longrepr),
            }
        )


def pytest_runtest_logreport(report: Any) -> None:
    location = report.location or ("", 0, "")
    _send(
        {
            "kind": "report",
            "nodeid": report.nodeid,
            "when": report.when,
            "outcome": report.outcome,
            "xfail": hasattr(report, "wasxfail"),
            "message": _message(report) if report.outcome != "passed" else "",
            "longrepr": _text(report.longrepr) if report.outcome != "passed" else "",
            "duration": float(report.duration),
            "file": str(location[0]),
            "properties": _properties(report) if report.when == "call" else {},
        }
    )


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    _send({"kind": "finish", "exitstatus": int(exitstatus)})
