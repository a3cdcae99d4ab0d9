"""The one resolver of a Python file's imports of the repository's own modules.

Given the repository's file list, every ``import`` and ``from ... import`` of a file is
resolved against the repository root and a ``src/`` layout (top-level names found in
either; ``tests/`` is never a package root). Relative imports resolve from the file's
own package. Each import becomes an :class:`InRepoImport`: the module, the file that
provides it (``None`` when no file does), and the imported names that neither a
submodule nor the package's ``__init__`` provides. The acceptance checks use it for
imports that do not resolve; the fix loop for the files a failing test pulls in.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class InRepoImport:
    """One import of a repository module by a file."""

    module: str
    """Dotted module name as imported (``pkg.sub``; a bad relative import keeps its dots)."""
    file: str | None
    """The file providing the module (``pkg/sub.py`` or ``pkg/sub/__init__.py``);
    ``None`` when none does."""
    exists: bool = False
    """Whether the module exists: a file, or a folder of modules (a namespace package)."""
    missing_names: list[str] = field(default_factory=list)
    """``module.name`` for each imported name nothing in the repository provides."""
    submodules: list[str] = field(default_factory=list)
    """Files of the imported names that are submodules (``from pkg import sub``)."""


def source_roots(repo_files: set[str]) -> list[str]:
    """Where top-level packages live: the repository root, and ``src/`` when used."""
    roots = [""]
    if any(p.startswith("src/") and p.endswith(".py") for p in repo_files):
        roots.append("src/")
    return roots


def top_level_names(repo_files: set[str]) -> dict[str, str]:
    """Top-level importable names of the repository → the source root they live in."""
    names: dict[str, str] = {}
    for root in source_roots(repo_files):
        for path in sorted(repo_files):
            if not path.startswith(root) or not path.endswith(".py"):
                continue
            parts = path[len(root) :].split("/")
            if parts[0] in ("tests", "src") and root == "":
                continue
            head = parts[0][:-3] if len(parts) == 1 else parts[0]
            if head.isidentifier():
                names.setdefault(head, root)
    return names


def module_file(module: str, repo_files: set[str]) -> str:
    """The path that would provide ``module`` (``pkg/sub.py``), honouring a ``src/`` layout."""
    root = top_level_names(repo_files).get(module.split(".")[0], "")
    return root + module.replace(".", "/") + ".py"


def _provider(module: str, root: str, repo_files: set[str]) -> str | None:
    base = root + module.replace(".", "/")
    for candidate in (f"{base}.py", f"{base}/__init__.py"):
        if candidate in repo_files:
            return candidate
    return None


def _is_namespace(module: str, root: str, repo_files: set[str]) -> bool:
    base = root + module.replace(".", "/") + "/"
    return any(p.startswith(base) for p in repo_files)


def binds(init_text: str, name: str) -> bool:
    """Whether a package ``__init__`` (may) define ``name``."""
    try:
        tree = ast.parse(init_text)
    except SyntaxError:
        return True
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name in (name, "__getattr__"):
                return True
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if any((a.asname or a.name.split(".")[0]) == name for a in node.names):
                return True
        elif isinstance(node, ast.Name) and node.id == name:
            return True
    return False


def in_repo_imports(
    path: str, tree: ast.Module, repo_files: set[str], read: Callable[[str], str]
) -> list[InRepoImport]:
    """Every import of a repository module in ``path`` (parsed as ``tree``), in order."""
    tops = top_level_names(repo_files)
    package_parts = path.split("/")[:-1]
    found: list[InRepoImport] = []

    def resolve(module: str, root: str, names: list[str]) -> None:
        provider = _provider(module, root, repo_files)
        exists = provider is not None or _is_namespace(module, root, repo_files)
        ref = InRepoImport(module, provider, exists)
        found.append(ref)
        if not exists:
            return
        base = root + module.replace(".", "/")
        for name in names:
            if name == "*" or f"{base}.py" in repo_files:
                continue
            sub = _provider(f"{module}.{name}", root, repo_files)
            if sub is not None:
                ref.submodules.append(sub)
            elif _is_namespace(f"{module}.{name}", root, repo_files):
                continue
            elif provider is None or not binds(read(provider), name):
                ref.missing_names.append(f"{module}.{name}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in tops:
                    resolve(alias.name, tops[top], [])
        elif isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names]
            if node.level:
                if node.level - 1 > len(package_parts):
                    found.append(InRepoImport("." * node.level + (node.module or ""), None))
                    continue
                base_parts = package_parts[: len(package_parts) - (node.level - 1)]
                parts = [*base_parts, *(node.module.split(".") if node.module else [])]
                if parts:
                    resolve(".".join(parts), "", names)
            elif node.module and node.module.split(".")[0] in tops:
                resolve(node.module, tops[node.module.split(".")[0]], names)
    return found


def unresolved(refs: list[InRepoImport]) -> list[str]:
    """The modules and names of ``refs`` that nothing in the repository provides."""
    missing: list[str] = []
    for ref in refs:
        missing.extend(ref.missing_names if ref.exists else [ref.module])
    return list(dict.fromkeys(missing))
