"""Tree-sitter languages the code memory understands: detection by file name, one
cached parser per language, and how definitions (functions, classes, structs) are
recognised and named in each grammar.

Grammars come from the individual wheels (``tree_sitter_python``, ``tree_sitter_c``,
``tree_sitter_cpp``, ``tree_sitter_cuda``); nothing is downloaded at run time.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import PurePosixPath

import tree_sitter_c
import tree_sitter_cpp
import tree_sitter_cuda
import tree_sitter_python
from tree_sitter import Language, Node, Parser

SUPPORTED = ("python", "c", "cpp", "cuda")
"""Languages chunked and summarised from their syntax tree; others fall back to lines."""

_EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".hxx": "cpp",
    ".cu": "cuda",
    ".cuh": "cuda",
}

_GRAMMARS = {
    "python": tree_sitter_python.language,
    "c": tree_sitter_c.language,
    "cpp": tree_sitter_cpp.language,
    "cuda": tree_sitter_cuda.language,
}

PY_DEFINITIONS = frozenset({"function_definition", "class_definition"})
C_DEFINITIONS = frozenset(
    {
        "function_definition",
        "struct_specifier",
        "class_specifier",
        "union_specifier",
        "enum_specifier",
        "namespace_definition",
    }
)

_local = threading.local()


def detect_language(path: str) -> str:
    """The language name for ``path`` from its extension; ``"text"`` when unknown."""
    return _EXTENSIONS.get(PurePosixPath(path).suffix.lower(), "text")


@cache
def language_for(language: str) -> Language:
    """The tree-sitter ``Language`` of one of :data:`SUPPORTED`."""
    return Language(_GRAMMARS[language]())


def parser_for(language: str) -> Parser:
    """A parser for one of :data:`SUPPORTED` (cached per thread: parsers are not shareable)."""
    cache: dict[str, Parser] | None = getattr(_local, "parsers", None)
    if cache is None:
        cache = {}
        _local.parsers = cache
    parser = cache.get(language)
    if parser is None:
        parser = Parser(language_for(language))
        cache[language] = parser
    return parser


def is_definition(node: Node, language: str) -> bool:
    """Whether ``node`` opens a named scope (function, class, struct, namespace, ...)."""
    if language == "python":
        return node.type in PY_DEFINITIONS
    if node.type not in C_DEFINITIONS:
        return False
    if node.type == "function_definition":
        return True
    # struct/class/enum/namespace: only definitions with a body, not mere type references
    return node.child_by_field_name("body") is not None


def definition_name(node: Node) -> Node | None:
    """The identifier node naming a definition (for C-family functions, through declarators)."""
    if node.type == "function_definition" and node.child_by_field_name("declarator") is not None:
        declarator = node.child_by_field_name("declarator")
        while declarator is not None:
            inner = declarator.child_by_field_name("declarator")
            if inner is None:
                if declarator.type in ("function_declarator", "parenthesized_declarator"):
                    named = [c for c in declarator.named_children if "identifier" in c.type]
                    return named[0] if named else None
                return declarator
            declarator = inner
        return None
    return node.child_by_field_name("name")


def node_text(source: bytes, node: Node) -> str:
    """The source text of ``node``."""
    return source[node.start_byte : node.end_byte].decode("utf-8", "replace")
