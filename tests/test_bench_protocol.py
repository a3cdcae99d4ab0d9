"""The generated benchmark's protocol rejects kernels that game it: each adversarial
launcher below wraps the real softmax kernel of a rendered repo and cheats one way; the
rendered ``bench/bench.py`` runs on the CPU (Triton interpreter) in the product's
sandbox and must mark that case invalid for the right reason, while the honest kernel
stays valid with its figures reported."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from test_kernels_repos import CATALOGUE, render, run_in_repo

PKG = "softmax_kernels"
HONEST = f"from {PKG}.kernels.softmax import softmax as honest\n"

ADVERSARIES: dict[str, str] = {
    "honest": HONEST + "softmax = honest\n",
    # Computes once per input pointer and serves the stored result afterwards.
    "caches_result": HONEST
    + """
_CACHE = {}


def softmax(x, out=None):
    key = (x.data_ptr(), tuple(x.shape))
    if key not in _CACHE:
        _CACHE[key] = honest(x)
    return _CACHE[key]
""",
    # Right on the buffer it was checked with before timing, wrong on every other one.
    "wrong_on_timed_buffers": HONEST
    + """
_FIRST = []


def softmax(x, out=None):
    if not _FIRST:
        _FIRST.append(x.data_ptr())
    if x.data_ptr() == _FIRST[0]:
        return honest(x, out=out)
    out.zero_()
    return out
""",
    # Writes every result into one module-level buffer and returns (a view of) it.
    "cached_buffer_view": HONEST
    + """
import torch

_BUFFERS = {}


def softmax(x, out=None):
    buffer = _BUFFERS.setdefault(tuple(x.shape), torch.empty_like(x))
    honest(x, out=buffer)
    return buffer[:]
""",
    # Returns the work to do instead of its result.
    "deferred_callable": HONEST
    + """
def softmax(x, out=None):
    return lambda: honest(x, out=out)
""",
    # Returns a tensor subclass (which could compute on first access).
    "tensor_subclass": HONEST
    + """
import torch


class Deferred(torch.Tensor):
    pass


def softmax(x, out=None):
    honest(x, out=out)
    return out.as_subclass(Deferred)
""",
    # Writes the result over its input and returns the input.
    "in_place_on_input": HONEST
    + """
def softmax(x, out=None):
    return honest(x, out=x)
""",
    # Hands the work to a thread and returns at once; the thread lingers. (The thread
    # uses torch: the Triton interpreter cannot run in two threads at once.)
    "works_in_thread": HONEST
    + """
import threading

import torch


def softmax(x, out=None):
    def work():
        out.copy_(torch.softmax(x, dim=-1))
        threading.Event().wait()

    threading.Thread(target=work, daemon=True).start()
    return out
""",
    # Stops the host clock when imported (last: it patches the process for good).
    "patches_timer": HONEST
    + """
import time

time.perf_counter_ns = lambda: 0
softmax = honest
""",
}

BASE_ARGS = ["--device", "cpu", "--shape", "M=17,N=128", "--reps", "4", "--warmup", "1"]
CASES: list[tuple[str, str, list[str]]] = [
    ("honest", "honest", ["--peak-gbs", "1e9", "--peak-tflops", "1e9"]),
    ("honest_no_peaks", "honest", []),
    ("too_fast", "honest", ["--peak-gbs", "1e-6"]),
    *((name, name, []) for name in ADVERSARIES if name != "honest"),
]
"""(case, adversary module, extra bench arguments), run in this order in one process."""

DRIVER = """
import json
import sys

sys.path.insert(0, "bench")
import bench

codes = {}
for case, module, extra in json.loads(sys.argv[1]):
    argv = [*json.loads(sys.argv[2]), "--kernel", f"adversaries.{module}:softmax"]
    codes[case] = bench.main([*argv, *extra, "--results", f"adversaries/{case}.json"])
with open("adversaries/codes.json", "w") as handle:
    json.dump(codes, handle)
"""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, sandbox_kind: str) -> dict[str, Any]:
    """Every case's exit status and single result row, from one sandboxed run."""
    repo = render("softmax", tmp_path_factory.mktemp("bench") / "softmax")
    folder = repo / "adversaries"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for name, source in ADVERSARIES.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    (folder / "drive.py").write_text(DRIVER)
    plan = json.dumps([list(case) for case in CASES])
    result = run_in_repo(
        repo, ["adversaries/drive.py", plan, json.dumps(BASE_ARGS)], sandbox_kind, timeout_s=300
    )
    assert result.exit_code == 0, (result.stdout + result.stderr)[-4000:]
    codes = json.loads((folder / "codes.json").read_text())
    rows = {}
    for case, _, _ in CASES:
        data = json.loads((folder / f"{case}.json").read_text())
        assert len(data["rows"]) == 1
        rows[case] = data["rows"][0]
    return {"codes": codes, "rows": rows, "output": result.stdout}


def reasons(outcomes: dict[str, Any], case: str) -> str:
    row = outcomes["rows"][case]
    assert outcomes["codes"][case] == 1, f"{case} exited {outcomes['codes'][case]}: {row}"
    assert row["valid"] is False
    assert "triton_ms" not in row and "speedup_vs_eager" not in row and "gbs" not in row
    return "\n".join(row["invalid"])


def test_honest_kernel_is_valid_with_peak_fraction_and_speedup(outcomes: dict[str, Any]) -> None:
    row = outcomes["rows"]["honest"]
    assert outcomes["codes"]["honest"] == 0, row
    assert row["valid"] is True and "invalid" not in row
    assert row["triton_ms"] > 0 and row["eager_ms"] > 0
    assert 0 < row["peak_fraction"] < 1e-6
    assert row["speedup_vs_eager"] == pytest.approx(row["eager_ms"] / row["triton_ms"])
    assert "compile_skipped" in row and "speedup_vs_compile" not in row


def test_cpu_run_without_peak_figures_disables_speed_of_light(outcomes: dict[str, Any]) -> None:
    row = outcomes["rows"]["honest_no_peaks"]
    assert outcomes["codes"]["honest_no_peaks"] == 0
    assert row["valid"] is True and row["sol"].startswith("disabled")
    assert "peak_fraction" not in row and "sol_ms" not in row


def test_time_below_speed_of_light_is_invalid_not_reported(outcomes: dict[str, Any]) -> None:
    text = reasons(outcomes, "too_fast")
    assert "below the speed-of-light bound" in text
    row = outcomes["rows"]["too_fast"]
    assert "peak_fraction" not in row and row["rejected_ms"] > 0
    assert "INVALID" in outcomes["output"]


def test_result_cached_across_calls_is_caught_by_rotating_buffers(
    outcomes: dict[str, Any],
) -> None:
    assert outcomes["rows"]["caches_result"]["correct"] is True
    assert "checked after timing: output differs" in reasons(outcomes, "caches_result")


def test_kernel_wrong_only_on_timed_buffers_is_caught_after_timing(
    outcomes: dict[str, Any],
) -> None:
    assert outcomes["rows"]["wrong_on_timed_buffers"]["correct"] is True
    assert "checked after timing: output differs" in reasons(outcomes, "wrong_on_timed_buffers")


def test_view_of_a_cached_buffer_is_caught(outcomes: dict[str, Any]) -> None:
    assert "share memory" in reasons(outcomes, "cached_buffer_view")


@pytest.mark.parametrize(
    ("case", "symptom"),
    [
        ("deferred_callable", "returned a function"),
        ("tensor_subclass", "returned a Deferred, not a plain torch.Tensor"),
    ],
)
def test_lazy_output_is_rejected_before_timing(
    outcomes: dict[str, Any], case: str, symptom: str
) -> None:
    text = reasons(outcomes, case)
    assert symptom in text and "not timed" in text


def test_kernel_writing_over_its_input_is_caught(outcomes: dict[str, Any]) -> None:
    text = reasons(outcomes, "in_place_on_input")
    assert "modified its inputs" in text or "shares memory with an input" in text


def test_work_left_on_another_thread_is_rejected(outcomes: dict[str, Any]) -> None:
    assert "that outlive the call" in reasons(outcomes, "works_in_thread")


def test_patched_timer_is_rejected(outcomes: dict[str, Any]) -> None:
    assert "timer time.perf_counter_ns was replaced" in reasons(outcomes, "patches_timer")


def test_forcing_cuda_without_a_gpu_is_a_usage_error(tmp_path: Path, sandbox_kind: str) -> None:
    repo = render("softmax", tmp_path / "softmax")
    result = run_in_repo(repo, ["bench/bench.py", "--device", "cuda"], sandbox_kind, timeout_s=120)
    assert result.exit_code == 2
    assert "use --device cpu" in result.stdout


ALL_OPS_DRIVER = """
import importlib.util
import json
import sys
from pathlib import Path

codes = {}
for op, shape in json.loads(sys.argv[1]).items():
    spec = importlib.util.spec_from_file_location(f"bench_{op}", Path(op, "bench", "bench.py"))
    bench = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    args = ["--device", "cpu", "--shape", shape, "--dtype", "float32", "--reps", "3"]
    results = str(Path(op, "protocol.json"))
    codes[op] = bench.main([*args, "--warmup", "1", "--results", results])
Path("codes.json").write_text(json.dumps(codes))
"""


@pytest.mark.slow
def test_every_catalogue_kernel_passes_the_protocol_on_cpu(
    tmp_path: Path, sandbox_kind: str
) -> None:
    root = tmp_path / "ops"
    root.mkdir()
    for op in CATALOGUE:
        render(op, root / op)
    (root / "drive.py").write_text(ALL_OPS_DRIVER)
    shapes = {
        op: ",".join(f"{k}={v}" for k, v in spec.test_shapes[1].items())
        for op, spec in CATALOGUE.items()
    }
    result = run_in_repo(root, ["drive.py", json.dumps(shapes)], sandbox_kind, timeout_s=600)
    assert result.exit_code == 0, (result.stdout + result.stderr)[-3000:]
    codes = json.loads((root / "codes.json").read_text())
    assert set(codes) == set(CATALOGUE)
    for op, code in codes.items():
        rows = json.loads((root / op / "protocol.json").read_text())["rows"]
        assert code == 0, (op, rows)
        assert len(rows) == 1 and rows[0]["valid"] and rows[0]["triton_ms"] > 0, (op, rows)
