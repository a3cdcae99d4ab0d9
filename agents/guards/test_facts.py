"""What a test file checks, read with ``ast``: the facts test protection compares
before and after a patch (:class:`TestFacts`: tests, assertions, skips, tolerances;
the comparisons, shapes and references are in :mod:`.test_shape`), and the tests that
check nothing.
"""

from __future__ import annotations

import ast
import operator
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_TOLERANCE_KEYWORDS = frozenset(
    {"atol", "rtol", "abs", "rel", "tol", "tolerance", "abs_tol", "rel_tol", "max_abs_err"}
)
_POSITIONAL_TOLERANCES = {
    "allclose": ("rtol", "atol"),
    "isclose": ("rtol", "atol"),
    "assert_allclose": ("rtol", "atol"),
}
"""Functions whose tolerances may be passed by position (argument 3 and 4)."""
_TOLERANCE_NAME = re.compile(r"tol", re.IGNORECASE)
_SKIP_ATTRS = frozenset({"skip", "skipif", "xfail", "skipTest", "importorskip", "skipUnless"})
_SKIP_NAMES = frozenset({"collect_ignore", "collect_ignore_glob", "pytestmark"})
_SKIP_HOOKS = frozenset(
    {
        "pytest_collection_modifyitems",
        "pytest_ignore_collect",
        "pytest_deselected",
        "pytest_runtest_setup",
        "pytest_runtest_call",
    }
)
_ASSERT_CALL = re.compile(r"^(assert\w*|raises|warns|approx|deprecated_call)$")


@dataclass
class TestFacts:
    """What a test file asserts: its tests, assertions, skips and tolerances."""

    tests: dict[str, int] = field(default_factory=dict)
    """Qualified test name → assertions inside it."""
    asserts: int = 0
    skips: Counter[str] = field(default_factory=Counter)
    cases: dict[str, int] = field(default_factory=dict)
    """Qualified test name → parameter sets of its ``parametrize`` decorators."""
    tolerances: dict[tuple[str, str], list[float | str]] = field(default_factory=dict)
    """(scope, site) → values; the source text for a value that is not a plain number."""
    checks: dict[str, set[str]] = field(default_factory=dict)
    """Scope → tolerance-taking calls made without a tolerance there."""

    @classmethod
    def of(cls, tree: ast.Module) -> TestFacts:
        facts = cls()
        constants = _numeric_constants(tree)
        facts._visit(tree.body, "", constants)
        return facts

    def _visit(self, body: list[ast.stmt], scope: str, constants: dict[str, float]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                qual = f"{scope}.{node.name}" if scope else node.name
                for deco in node.decorator_list:
                    self._skip_marks(deco)
                if node.name in _SKIP_HOOKS:
                    self.skips[f"a {node.name} hook"] += 1
                count = self._scan(node.body, qual, constants)
                if node.name.startswith("test"):
                    self.tests[qual] = count
                    self.cases[qual] = _parameter_sets(node.decorator_list)
            elif isinstance(node, ast.ClassDef):
                qual = f"{scope}.{node.name}" if scope else node.name
                for deco in node.decorator_list:
                    self._skip_marks(deco)
                self._visit(node.body, qual, constants)
            else:
                self._scan([node], scope or "<module>", constants)

    def _scan(self, body: list[ast.stmt], scope: str, constants: dict[str, float]) -> int:
        """Record what ``body`` holds; the number of assertions in it."""
        count = 0
        for stmt in body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Assert):
                    count += not vacuous(node.test)
                    self._bounds(node, scope, constants)
                elif isinstance(node, ast.Call):
                    callee = callee_name(node.func)
                    if _ASSERT_CALL.match(callee) and not same_operands(node):
                        count += 1
                    if callee in _SKIP_ATTRS:
                        self.skips[f"a {callee}() call"] += 1
                    self._call_tolerances(node, callee, scope, constants)
                elif isinstance(node, ast.Assign | ast.AnnAssign):
                    self._assigned(node, scope, constants)
                elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    for deco in node.decorator_list:
                        self._skip_marks(deco)
        self.asserts += count
        return count

    def _skip_marks(self, decorator: ast.expr) -> None:
        for node in ast.walk(decorator):
            if isinstance(node, ast.Attribute | ast.Name) and callee_name(node) in _SKIP_ATTRS:
                self.skips[f"a {callee_name(node)} marker"] += 1

    def _assigned(
        self, node: ast.Assign | ast.AnnAssign, scope: str, constants: dict[str, float]
    ) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            name = callee_name(target)
            if name in _SKIP_NAMES:
                self.skips[f"a {name} assignment"] += 1
            if node.value is not None and _TOLERANCE_NAME.search(name):
                values = [_value(v, constants) for v in _leaves(node.value)]
                self.tolerances.setdefault((scope, name), []).extend(values)

    def _call_tolerances(
        self, node: ast.Call, callee: str, scope: str, constants: dict[str, float]
    ) -> None:
        found = False
        for keyword in node.keywords:
            if keyword.arg in _TOLERANCE_KEYWORDS or (
                keyword.arg is not None and keyword.arg.endswith("_tol")
            ):
                found = True
                self.tolerances.setdefault((scope, f"{callee}({keyword.arg}=)"), []).append(
                    _value(keyword.value, constants)
                )
        for index, name in enumerate(_POSITIONAL_TOLERANCES.get(callee, ())):
            if len(node.args) > index + 2:
                found = True
                self.tolerances.setdefault((scope, f"{callee}({name}=)"), []).append(
                    _value(node.args[index + 2], constants)
                )
        tolerant = callee in _POSITIONAL_TOLERANCES or callee in ("assert_close", "approx")
        if tolerant and not found:
            self.checks.setdefault(scope, set()).add(callee)

    def _bounds(self, node: ast.Assert, scope: str, constants: dict[str, float]) -> None:
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            op, right = test.ops[0], test.comparators[0]
            if isinstance(op, ast.Lt | ast.LtE) and _is_numeric_expr(right):
                site = f"the bound of `assert {ast.unparse(test.left)} <`"
                self.tolerances.setdefault((scope, site), []).append(_value(right, constants))


def loosened(old: TestFacts, new: TestFacts) -> str:
    """The first tolerance that ``new`` raises over ``old``, described; ``""`` if none."""
    for key, after in new.tolerances.items():
        scope, site = key
        where = f"{site} in {scope}"
        before = old.tolerances.get(key)
        if before is None:
            callee = site.split("(")[0]
            if scope in old.tests and callee in old.checks.get(scope, set()):
                return f"{where} (a tolerance added to a check that had none)"
            continue
        unknown = [v for v in after if isinstance(v, str) and v not in before]
        if unknown:
            return f"{where} (changed to {unknown[0]!r}, which is not a plain number)"
        pairs = (
            zip(before, after, strict=True)
            if len(before) == len(after)
            else [(max(_numbers(before), default=0.0), max(_numbers(after), default=0.0))]
        )
        for was, now in pairs:
            if isinstance(was, float) and isinstance(now, float) and now > was:
                return f"{where} ({_fmt(was)} → {_fmt(now)})"
    return ""


def _numbers(values: list[float | str]) -> list[float]:
    return [v for v in values if isinstance(v, float)]


def _parameter_sets(decorators: list[ast.expr]) -> int:
    """How many parameter sets the ``parametrize`` decorators list (their product)."""
    total = 1
    for deco in decorators:
        if isinstance(deco, ast.Call) and callee_name(deco) == "parametrize" and len(deco.args) > 1:
            values = deco.args[1]
            if isinstance(values, ast.List | ast.Tuple):
                total *= len(values.elts)
    return total


def vacuous(test: ast.expr) -> bool:
    """Whether an assertion's test holds whatever the code does: a truthy constant
    (``assert True``), a true comparison of constants, a comparison of an expression with itself
    (``assert out == out``), an ``or`` with a vacuous side, ``not`` of a falsy constant,
    or a comparison call of a value with itself (``torch.allclose(out, out)``)."""
    if isinstance(test, ast.Constant):
        return bool(test.value)
    if isinstance(test, ast.BoolOp):
        parts = [vacuous(v) for v in test.values]
        return any(parts) if isinstance(test.op, ast.Or) else all(parts)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return isinstance(test.operand, ast.Constant) and not test.operand.value
    if isinstance(test, ast.Compare):
        operands = [test.left, *test.comparators]
        if all(isinstance(o, ast.Constant) for o in operands):
            return _constant_truth(test)
        reflexive = (ast.Eq, ast.Is, ast.LtE, ast.GtE)
        return len(test.ops) == 1 and (
            isinstance(test.ops[0], reflexive)
            and ast.dump(test.left) == ast.dump(test.comparators[0])
        )
    if isinstance(test, ast.Call):
        return same_operands(test)
    return False


_OPERATORS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


def _constant_truth(test: ast.Compare) -> bool:
    """The value of a chained comparison between constants (``0 < 1e-6``); false if it
    cannot be computed."""
    values = [o.value for o in (test.left, *test.comparators) if isinstance(o, ast.Constant)]
    try:
        return all(
            bool(_OPERATORS[type(op)](left, right))
            for op, left, right in zip(test.ops, values, values[1:], strict=False)
        )
    except (TypeError, KeyError):
        return False


_COMPARING_CALLS = re.compile(r"^(assert\w*(close|equal)\w*|allclose|isclose|equal|array_equal)$")


def same_operands(call: ast.Call) -> bool:
    """Whether a comparing call compares its first argument with itself."""
    return (
        bool(_COMPARING_CALLS.match(callee_name(call.func)))
        and len(call.args) >= 2
        and ast.dump(call.args[0]) == ast.dump(call.args[1])
    )


def _fmt(value: float) -> str:
    return f"{value:g}"


def callee_name(node: ast.expr) -> str:
    """The last name of a called or assigned expression (``torch.testing.assert_close`` →
    ``assert_close``); ``""`` when it has none."""
    if isinstance(node, ast.Call):
        return callee_name(node.func)
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _leaves(value: ast.expr) -> list[ast.expr]:
    """The values of a constant container (dict values, tuple items), or ``value`` itself."""
    if isinstance(value, ast.Dict):
        return [leaf for v in value.values for leaf in _leaves(v)]
    if isinstance(value, ast.Tuple | ast.List):
        return [leaf for v in value.elts for leaf in _leaves(v)]
    if isinstance(value, ast.Call) and callee_name(value) == "dict":
        return [leaf for kw in value.keywords for leaf in _leaves(kw.value)]
    return [value]


def _numeric_constants(tree: ast.Module) -> dict[str, float]:
    """Module-level names bound to a number (``ATOL = 1e-5``)."""
    found: dict[str, float] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            value = _number(node.value, found)
            if isinstance(target, ast.Name) and value is not None:
                found[target.id] = value
    return found


def _is_numeric_expr(node: ast.expr) -> bool:
    return all(
        isinstance(
            n,
            ast.Constant
            | ast.BinOp
            | ast.UnaryOp
            | ast.operator
            | ast.unaryop
            | ast.Name
            | ast.Load,
        )
        for n in ast.walk(node)
    ) and any(isinstance(n, ast.Constant) for n in ast.walk(node))


def _value(node: ast.expr, constants: dict[str, float]) -> float | str:
    """A tolerance's value: the number, or its source text when it is not a plain number."""
    number = _number(node, constants)
    return ast.unparse(node) if number is None else number


def _number(node: ast.expr, constants: dict[str, float]) -> float | None:
    """The value of a constant arithmetic expression, ``None`` when it is not one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return None if isinstance(node.value, bool) else float(node.value)
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _number(node.operand, constants)
        if inner is None:
            return None
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        left, right = _number(node.left, constants), _number(node.right, constants)
        if left is None or right is None:
            return None
        try:
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, ast.Div):
                return left / right
            if isinstance(node.op, ast.Pow) and abs(right) < 400:
                return float(left**right)
        except (ZeroDivisionError, OverflowError):
            return None
    return None


def vacuous_only_tests(tree: ast.Module) -> list[tuple[str, int]]:
    """Tests (qualified name, line) that check nothing: every assertion they make holds
    whatever the code does (``assert True``, ``assert x == x``), or they make none and
    call nothing that could raise."""
    found: list[tuple[str, int]] = []

    def visit(body: list[ast.stmt], scope: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{scope}{node.name}.")
            elif (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and node.name.startswith("test")
                and _checks_nothing(node)
            ):
                found.append((f"{scope}{node.name}", node.lineno))

    visit(tree.body, "")
    return found


def _checks_nothing(test: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    asserts = [n for n in ast.walk(test) if isinstance(n, ast.Assert)]
    calls = [n for n in ast.walk(test) if isinstance(n, ast.Call)]
    real_calls = [
        c
        for c in calls
        if not (_ASSERT_CALL.match(callee_name(c.func)) and same_operands(c))
        and not any(c in ast.walk(a) for a in asserts)
    ]
    if any(not vacuous(a.test) for a in asserts):
        return False
    if any(_ASSERT_CALL.match(callee_name(c.func)) and not same_operands(c) for c in calls):
        return False
    return bool(asserts) or not real_calls
