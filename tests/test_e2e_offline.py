"""End to end on the embedded default: the offline engine turns the sample online-softmax
paper into a Triton repo whose tests pass in the sandbox; runs survive SIGKILL, Ctrl-C,
plan-only stops and concurrent resumes."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_PDF, cli, start_cli
from filelock import FileLock

pytestmark = pytest.mark.slow


def tree_digest(repo: Path) -> dict[str, str]:
    """Every file of the generated repo (outside .git) with its content hash."""
    return {
        str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(repo.rglob("*"))
        if p.is_file()
        and ".git" not in p.relative_to(repo).parts
        and "__pycache__" not in p.parts
        and ".pytest_cache" not in p.parts
    }


def only_session(root: Path) -> Path:
    sessions = [p for p in root.iterdir() if (p / "session.toml").exists()]
    assert len(sessions) == 1
    return sessions[0]


def events(session: Path) -> list[dict[str, Any]]:
    path = session / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for_event(
    session_root: Path, predicate: Any, proc: subprocess.Popen[str], timeout: float = 300
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before the event was seen"
        sessions = [p for p in session_root.iterdir()] if session_root.exists() else []
        for session in sessions:
            if any(predicate(e) for e in events(session)):
                return
        time.sleep(0.002)
    raise AssertionError("event never seen")


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory, sandbox_kind: str) -> dict[str, Any]:
    """One uninterrupted offline run of the sample paper."""
    home = tmp_path_factory.mktemp("ref-home")
    out = tmp_path_factory.mktemp("ref-out")
    proc = cli(
        home, sandbox_kind, "run", str(SAMPLE_PDF), "--llm", "offline", "-o", str(out), "--json"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout)
    session = only_session(out)
    return {"data": data, "session": session, "digest": tree_digest(session / "repo")}


def test_offline_run_builds_a_softmax_repo_whose_tests_pass(reference_run: dict[str, Any]) -> None:
    data = reference_run["data"]
    session: Path = reference_run["session"]
    assert data["status"] == "done"
    assert "softmax" in data["paper"]["title"].lower()
    assert data["blueprint"]["kernel_targets"] == ["softmax"]
    assert data["tests"]["passed"] > 0 and data["tests"]["failed"] == 0
    counts = data["instructions"]
    assert counts["done"] == counts["total"] > 0
    assert counts["failed"] == 0
    assert data["llm"]["calls"] == 0
    repo = session / "repo"
    files = reference_run["digest"]
    assert any(p.endswith("kernels/softmax.py") for p in files)
    assert any(p.endswith("reference.py") for p in files)
    assert "tests/test_correctness.py" in files
    assert "bench/bench.py" in files
    kernel = next(repo.glob("*/kernels/softmax.py")).read_text()
    assert "@triton.jit" in kernel
    messages = [c["message"] for c in data["repo"]["commits"]]
    assert len(messages) == counts["total"]  # one commit per instruction
    assert {m.split(":")[0] for m in messages} == {i["id"] for i in counts["items"]}
    for name in (
        "session.toml",
        "checkpoints.sqlite",
        "document.json",
        "blueprint.json",
        "blueprint.md",
        "registry.json",
        "events.jsonl",
        "report.html",
    ):
        assert (session / name).exists(), name
    run_dir = session / "sandbox" / data["tests"]["run"]
    assert (run_dir / "junit.xml").exists()
    assert data["benchmark"].startswith("skipped")
    verified = {e["event"]: e for e in events(session) if e["node"] == "verify"}
    builds = verified["kernel-builds"]
    # The GPU build records come from the verify test run itself: no second compile run.
    assert builds["run"] == verified["end"]["run"] and builds["kernels"] > 0
    assert builds["failed"] == 0 and builds["problem"] == ""


def test_sigkill_mid_implement_then_resume_gives_the_same_result(
    tmp_path: Path, reference_run: dict[str, Any], sandbox_kind: str
) -> None:
    home, out = tmp_path / "home", tmp_path / "out"
    proc = start_cli(
        home, sandbox_kind, "run", str(SAMPLE_PDF), "--llm", "offline", "-o", str(out), "-q"
    )
    try:
        wait_for_event(
            out,
            lambda e: e["node"] == "implement" and e["event"] == "end" and e["position"] >= 3,
            proc,
        )
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    session = only_session(out)
    before = events(session)
    done_before = {
        e["instruction"] for e in before if e["node"] == "implement" and e["event"] == "end"
    }
    assert not any(e["node"] == "verify" for e in before), "killed too late to test resume"

    listed = cli(home, sandbox_kind, "sessions", "--json")
    assert json.loads(listed.stdout)[0]["status"] == "interrupted"

    resumed = cli(home, sandbox_kind, "resume", session.name, "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    data = json.loads(resumed.stdout)
    after = events(session)[len(before) :]
    assert not any(e["node"] in ("ingest", "distill", "plan") for e in after)
    redone = {e["instruction"] for e in after if e["node"] == "implement" and e["event"] == "start"}
    assert len(redone & done_before) <= 1  # at most the step whose checkpoint the kill beat
    assert tree_digest(session / "repo") == reference_run["digest"]
    ref = reference_run["data"]
    assert data["status"] == ref["status"] == "done"
    assert data["tests"]["passed"] == ref["tests"]["passed"]
    assert data["tests"]["failed"] == ref["tests"]["failed"] == 0


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path: Path, sandbox_kind: str) -> None:
    home, out = tmp_path / "home", tmp_path / "out"
    proc = start_cli(
        home, sandbox_kind, "run", str(SAMPLE_PDF), "--llm", "offline", "-o", str(out), "-q"
    )
    wait_for_event(out, lambda e: e["node"] == "implement" and e["event"] == "end", proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "resume" in stderr and "Traceback" not in stderr
    session = only_session(out)
    meta = cli(home, sandbox_kind, "inspect", session.name, "--json")
    assert json.loads(meta.stdout)["status"] == "stopped"
    resumed = cli(home, sandbox_kind, "resume", "--last", "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads(resumed.stdout)["status"] == "done"


def plan_only(tmp_path: Path, sandbox_kind: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """A session run with --plan-only (home and sessions under ``tmp_path``)."""
    out = tmp_path / "out"
    planned = cli(
        tmp_path / "home",
        sandbox_kind,
        "run",
        str(SAMPLE_PDF),
        "--llm",
        "offline",
        "--plan-only",
        "-o",
        str(out),
        "--json",
    )
    assert planned.returncode == 0, planned.stderr[-3000:]
    return planned, only_session(out)


def test_plan_only_stops_at_the_blueprint_and_resume_continues(
    tmp_path: Path, sandbox_kind: str
) -> None:
    home = tmp_path / "home"
    planned, session = plan_only(tmp_path, sandbox_kind)
    assert json.loads(planned.stdout)["status"] == "planned"
    assert (session / "blueprint.md").read_text().startswith("# Blueprint")
    assert not (session / "registry.json").exists()
    resumed = cli(home, sandbox_kind, "resume", session.name, "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads(resumed.stdout)["status"] == "done"

    again = cli(home, sandbox_kind, "resume", session.name)
    assert again.returncode != 0
    assert "already finished" in again.stderr and "Traceback" not in again.stderr


def test_a_second_runner_on_the_same_session_is_refused(tmp_path: Path, sandbox_kind: str) -> None:
    home = tmp_path / "home"
    _, session = plan_only(tmp_path, sandbox_kind)
    toml_before = (session / "session.toml").read_text()
    with FileLock(str(session / ".lock"), timeout=0):
        proc = cli(home, sandbox_kind, "resume", str(session))
    assert proc.returncode != 0
    assert "already being run" in proc.stderr and "Traceback" not in proc.stderr
    assert (session / "session.toml").read_text() == toml_before
    assert (session / "blueprint.json").exists()
