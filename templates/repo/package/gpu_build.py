"""GPU build check: compile every Triton kernel the launchers use for real GPU targets,
on a machine without a GPU.

The Triton interpreter (``TRITON_INTERPRET=1``, how the tests run on a CPU) accepts
kernels that a GPU build rejects: a non-constexpr ``tl.arange`` bound, ``tl.dot`` on
blocks smaller than 16, a Python int where a tensor is needed, a dtype the target lacks.
Triton's compiler needs no GPU or driver, so this module builds each kernel the way a GPU
launch would: TTIR, TTGIR, LLVM IR, PTX and a cubin from the bundled ``ptxas``.

How launches are found: ``collect_launches(module, call)`` swaps each interpreter-mode
kernel the kernel module can reach for its JIT twin (same function, same options; the
module dictionaries are restored after), replaces ``JITFunction.run`` by a hook that
records the arguments instead of launching, and runs ``call`` (the launcher at the
tests' shapes and dtypes) on CPU tensors. Each recorded launch is bound and specialised
by Triton's own binder for each target (argument types, constexpr values, 16-byte
divisibility, ``num_warps`` ...), exactly as a launch on that GPU would be, then
compiled. Not covered: ``@triton.autotune`` kernels (choosing a config times them, which
needs a GPU).

Per kernel and target it records ok, seconds, shared memory bytes, registers and spills
(from the bundled ``ptxas -v`` log). A compile error fails; spills and shared memory over
the target's per-block limit are warnings. ``python tests/test_gpu_build.py --json``
prints the records; the test file runs the check under pytest.

The file is copied verbatim into every generated kernel repo (it needs only ``triton``;
Triton >= 3.4 for ``triton.knobs``; written against 3.9, whose binder and ``ASTSource`` it uses).
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource, make_backend
from triton.runtime import jit as triton_jit
from triton.runtime.interpreter import InterpretedFunction

TARGETS: dict[str, tuple[int, int]] = {
    "sm_80": (80, 166912),
    "sm_86": (86, 101376),
    "sm_89": (89, 101376),
    "sm_90": (90, 232448),
}
"""Target name -> (compute capability, shared memory a block may use, in bytes)."""
DEFAULT_TARGETS = ("sm_80", "sm_90")
MAX_ERROR_CHARS = 4000
"""A compiler message is cut to this many characters (its start says what broke)."""

_PTXAS_USAGE = re.compile(r"Used (\d+) registers")
_PTXAS_SPILLS = re.compile(r"(\d+) bytes spill stores, (\d+) bytes spill loads")


@dataclass
class Launch:
    """One launch a launcher made: the kernel and the arguments it was given."""

    kernel: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass
class Build:
    """What compiling one kernel specialisation for one target gave."""

    kernel: str
    target: str
    ok: bool
    seconds: float
    shared_bytes: int | None = None
    registers: int | None = None
    spills: int | None = None
    error: str = ""
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        head = f"{self.kernel} [{self.target}]"
        if not self.ok:
            return f"{head}: GPU compile failed:\n{self.error}"
        usage = (
            f"{self.registers} registers, {self.spills} spill bytes, {self.shared_bytes} B shared"
        )
        return f"{head}: ok in {self.seconds:.2f}s ({usage})"


def _language_objects() -> list[Any]:
    import triton.language as tl

    modules = [m for n, m in list(sys.modules.items()) if n.startswith("triton.language") and m]
    return [*modules, tl.tensor, tl.dtype, tl.core.tensor_descriptor_base]


_PRISTINE = [(obj, dict(vars(obj))) for obj in _language_objects()]
"""``triton.language`` as it was when this module was imported (pytest imports it while
collecting, before any test runs a kernel). The interpreter patches the language's
builtins while it runs a kernel and does not always put them back (a nested ``@jit``
call such as ``tl.max`` leaves its patches in place), which would break compiling."""


@contextlib.contextmanager
def _pristine_language() -> Iterator[None]:
    """Within the block ``triton.language`` has its import-time attributes again."""
    changed: list[tuple[Any, str, Any]] = []
    for obj, saved in _PRISTINE:
        now = vars(obj)
        for name, value in saved.items():
            if name in now and now[name] is not value:
                changed.append((obj, name, now[name]))
                setattr(obj, name, value)
    try:
        yield
    finally:
        for obj, name, value in reversed(changed):
            setattr(obj, name, value)


def _jit_twin(fn: Any, twins: dict[int, Any]) -> Any:
    """The JIT function of an interpreter-mode kernel (the same Python function and
    options), made once per kernel."""
    if id(fn) not in twins:
        twins[id(fn)] = triton_jit.JITFunction(fn.fn, **fn.kwargs)
    return twins[id(fn)]


@contextlib.contextmanager
def _jit_mode(roots: list[dict[str, Any]]) -> Iterator[None]:
    """Within the block ``triton.language`` is as imported, and every interpreter-mode
    kernel reachable from the module dictionaries ``roots`` (their globals, transitively
    those of the kernels they name, and the language's own ``@jit`` functions such as
    ``tl.max``) is its JIT twin; all is restored after. Nothing is imported again."""
    with _pristine_language(), _jit_forms(roots):
        yield


@contextlib.contextmanager
def _jit_forms(roots: list[dict[str, Any]]) -> Iterator[None]:
    swapped: list[tuple[dict[str, Any], str, Any]] = []
    twins: dict[int, Any] = {}
    seen: set[int] = set()
    pending = list(roots)
    while pending:
        names = pending.pop()
        if id(names) in seen:
            continue
        seen.add(id(names))
        for name, value in list(names.items()):
            if isinstance(value, InterpretedFunction):
                swapped.append((names, name, value))
                names[name] = _jit_twin(value, twins)
                pending.append(value.fn.__globals__)
            elif isinstance(value, triton_jit.JITFunction):
                pending.append(value.fn.__globals__)
            elif isinstance(value, ModuleType) and value.__name__.startswith("triton.language"):
                pending.append(vars(value))
    try:
        yield
    finally:
        for names, name, value in reversed(swapped):
            names[name] = value


def collect_launches(module: ModuleType, call: Callable[[ModuleType], object]) -> list[Launch]:
    """The launches ``call(module)`` makes (``module`` holds the launcher and its
    kernels), recorded instead of run, with every kernel in its JIT form."""
    launches: list[Launch] = []

    def record(self: Any, *args: Any, grid: Any, warmup: bool, **kwargs: Any) -> None:
        launches.append(Launch(self, args, kwargs))

    original = triton_jit.JITFunction.run
    with _jit_mode([vars(module)]):
        triton_jit.JITFunction.run = record
        try:
            call(module)
        finally:
            triton_jit.JITFunction.run = original
    return launches


def _specialise(launch: Launch, target: GPUTarget) -> tuple[Any, ...]:
    """Triton's own binding of a launch for ``target``: options, signature, constexprs, attrs."""
    kernel = launch.kernel
    kwargs = dict(launch.kwargs)
    kwargs.setdefault("debug", kernel.debug or triton.knobs.runtime.debug)
    kwargs.setdefault("instrumentation_mode", triton.knobs.compilation.instrumentation_mode)
    kwargs.setdefault("fpsan_homomorphic_casts", triton.knobs.compilation.fpsan_homomorphic_casts)
    backend = make_backend(target)
    binder = triton_jit.create_function_from_signature(kernel.signature, kernel.params, backend)
    bound, specialization, options = binder(*launch.args, **kwargs)
    return kernel._pack_args(backend, kwargs, bound, specialization, options)


def _key(launch: Launch, target: GPUTarget) -> str:
    options, signature, constexprs, attrs = _specialise(launch, target)
    return repr((launch.kernel.fn.__qualname__, signature, constexprs, attrs, options))


def _name(launch: Launch, signature: dict[str, Any], constexprs: dict[Any, Any]) -> str:
    """``kernel[element types](constexpr=value, ...)``: which specialisation was built."""
    params = [p.name for p in launch.kernel.params]
    types = sorted({str(t)[1:] for t in signature.values() if str(t).startswith("*")})
    shown = ", ".join(
        f"{params[path[0]]}={value}" for path, value in constexprs.items() if len(path) == 1
    )
    return f"{launch.kernel.fn.__name__}[{','.join(types)}]({shown})"


def compile_launch(launch: Launch, target_name: str) -> Build:
    """Compile one launch for ``target_name`` (e.g. ``sm_90``) and read its resource use."""
    capability, shared_limit = TARGETS[target_name]
    target = GPUTarget("cuda", capability, 32)
    start = time.perf_counter()
    name = launch.kernel.fn.__name__
    log = io.StringIO()
    knobs = triton.knobs
    saved = (knobs.nvidia.dump_ptxas_log, knobs.compilation.always_compile)
    knobs.nvidia.dump_ptxas_log, knobs.compilation.always_compile = True, True
    try:
        options, signature, constexprs, attrs = _specialise(launch, target)
        name = _name(launch, signature, constexprs)
        source = ASTSource(launch.kernel, signature, constexprs, attrs)
        with contextlib.redirect_stdout(log):
            compiled = triton.compile(source, target=target, options=options.__dict__)
    except Exception as exc:  # every compiler failure is reported, none is hidden
        message = f"{type(exc).__name__}: {exc}".strip()
        return Build(
            name, target_name, False, time.perf_counter() - start, error=message[:MAX_ERROR_CHARS]
        )
    finally:
        knobs.nvidia.dump_ptxas_log, knobs.compilation.always_compile = saved
    seconds = time.perf_counter() - start
    text = log.getvalue()
    registers = [int(m) for m in _PTXAS_USAGE.findall(text)]
    spills = [int(s) + int(lo) for s, lo in _PTXAS_SPILLS.findall(text)]
    build = Build(
        name,
        target_name,
        True,
        seconds,
        shared_bytes=int(compiled.metadata.shared),
        registers=max(registers) if registers else None,
        spills=max(spills) if spills else None,
    )
    if build.spills:
        build.warnings.append(f"{build.spills} bytes of register spills (local memory traffic)")
    if build.shared_bytes is not None and build.shared_bytes > shared_limit:
        build.warnings.append(
            f"{build.shared_bytes} B of shared memory exceeds the {shared_limit} B a block "
            f"may use on {target_name}: the launch would fail with OutOfResources"
        )
    return build


def check(launches: list[Launch], targets: tuple[str, ...] = DEFAULT_TARGETS) -> list[Build]:
    """Compile each distinct launch for each target, in launch order. After a kernel's
    first failed build for a target its other specialisations for that target are not
    tried (their error is almost always the same, and each costs a compile)."""
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise ValueError(f"unknown GPU targets {unknown}; use some of {sorted(TARGETS)}")
    builds: list[Build] = []
    with _jit_mode([launch.kernel.fn.__globals__ for launch in launches]):
        for target in targets:
            builds += _check_target(launches, target)
    return builds


def _check_target(launches: list[Launch], target: str) -> list[Build]:
    builds: list[Build] = []
    seen: set[str] = set()
    broken: set[int] = set()
    for launch in launches:
        if id(launch.kernel) in broken:
            continue
        try:
            key = _key(launch, GPUTarget("cuda", TARGETS[target][0], 32))
        except Exception as exc:  # a launch Triton cannot even bind is a failed build
            message = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
            builds.append(Build(launch.kernel.fn.__name__, target, False, 0.0, error=message))
            broken.add(id(launch.kernel))
            continue
        if key not in seen:
            seen.add(key)
            builds.append(compile_launch(launch, target))
            if not builds[-1].ok:
                broken.add(id(launch.kernel))
    return builds


def as_records(builds: list[Build]) -> list[dict[str, Any]]:
    """The builds as JSON-ready dicts (what ``--json`` prints)."""
    return [asdict(b) for b in builds]
