"""The import graph of `mds/`, read from the source with `ast`, keeps the shape the design promises.

What counts as an import: every ``import`` and ``from ... import`` anywhere in a module (at the
top, inside functions and methods, inside ``if TYPE_CHECKING:`` blocks), relative ones resolved,
and ``importlib.import_module("mds....")`` with a literal name. An import points at the most
specific module it names: ``from mds.models import Webhook`` at ``mds.models`` (the package's
``__init__``), ``from mds.models import webhook`` at ``mds.models.webhook``. The parent packages
that Python also initialises on the way are not counted (else every module would depend on
``mds/__init__.py``), as import-linter and pydeps do.

``if TYPE_CHECKING:`` imports never run, so they cannot make an import fail; they still say that
one module knows another. So they count for the layers and the emulator's isolation, and for
circles in a test of their own: a circle at run time breaks imports, a circle through type-only
imports says two modules know each other, which the layers forbid just the same.

The rules (docs: the common brief of issue 7, STYLE.md "Imports point one way"):

* no circle between modules (at run time; and counting type-only imports);
* no module imports another module's ``_private`` name (a private *module* such as ``mds._types``
  is fine, dunders such as ``__version__`` are fine); a name reached through an imported module
  (``events._message_dict(...)``) counts as imported;
* the layers below, lowest first: a module imports only from its own layer or lower ones, also
  inside functions; ``payload`` is a leaf and ``events`` uses only ``payload`` and the
  foundation;
* the emulator (``mds.emulator``) imports nothing of the client but ``mds._version``, and only
  the command line imports the emulator. The one exception: the pytest plugin's ``mds_client``
  fixture builds an ``mds.ApiClient`` and imports ``mds`` inside that fixture.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mds"

#: The client's layers, lowest first: (layer, the modules in it, the layers it may import from,
#: when narrower than "every lower layer"). A module is in a layer when its name is one of the
#: listed names or starts with one of them and a dot (``mds.models`` holds ``mds.models.webhook``);
#: ``mds`` itself is only the package's ``__init__``, the facade that re-exports the public names.
LAYERS: list[tuple[str, tuple[str, ...], frozenset[str] | None]] = [
    ("foundation", ("mds.exceptions", "mds._types", "mds._version"), None),
    ("configuration", ("mds.configuration",), None),
    ("payload", ("mds.payload",), frozenset({"foundation"})),
    ("events", ("mds.events",), frozenset({"foundation", "payload"})),
    ("models", ("mds.models",), None),
    ("transport", ("mds.rest", "mds.api_client", "mds.websocket"), None),
    ("api", ("mds.api",), None),
    # The lowest of the consumers: the listener and the receivers use it; it uses only events.
    ("checkpoint", ("mds.checkpoint",), frozenset({"foundation", "payload", "events"})),
    ("consumers", ("mds.listener", "mds.async_responses", "mds.webhook_receiver"), None),
    ("aio", ("mds.aio",), None),
    ("facade", ("mds",), None),
    ("cli", ("mds.cli", "mds.__main__"), None),
]
EMULATOR = "mds.emulator"
#: What the emulator may import of the client.
EMULATOR_MAY_IMPORT = frozenset({"mds._version"})
#: The documented exception: (importer, imported), allowed inside a function only.
EMULATOR_EXCEPTIONS = frozenset({("mds.emulator.pytest_plugin", "mds")})
#: The layer from which the client may use the emulator (`mds emulator`, `mds demo`).
EMULATOR_USERS = "cli"


@dataclass(frozen=True)
class Import:
    """One import of an `mds` module by an `mds` module, where it is written."""

    importer: str
    imported: str
    #: the name taken from ``imported`` (``from imported import name``, or ``imported.name``
    #: through a module bound by an import); None when the module itself is imported
    name: str | None
    path: Path
    line: int
    in_function: bool
    type_checking: bool

    def where(self) -> str:
        place = [f"{self.path.relative_to(ROOT)}:{self.line}"]
        if self.in_function:
            place.append("in a function")
        if self.type_checking:
            place.append("under TYPE_CHECKING")
        return ", ".join(place)

    def __str__(self) -> str:
        what = self.imported if self.name is None else f"{self.imported}.{self.name}"
        return f"{self.where()}: {self.importer} imports {what}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


MODULES = package_modules()


def known_module(dotted: str) -> str | None:
    """The most specific module of `mds` that *dotted* names (itself or a parent), if any."""
    parts = dotted.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Collector(ast.NodeVisitor):
    """Collects the imports of one module, and the names it reaches through imported modules."""

    def __init__(self, module: str, path: Path) -> None:
        self.module = module
        self.path = path
        self.is_package = path.name == "__init__.py"
        self.imports: list[Import] = []
        #: local names bound to an `mds` module by an import (`from mds import events`)
        self.module_aliases: dict[str, str] = {}
        self._function_depth = 0
        self._type_checking_depth = 0

    def _add(self, node: ast.AST, imported: str, name: str | None) -> None:
        self.imports.append(Import(
            self.module, imported, name, self.path, getattr(node, "lineno", 0),
            self._function_depth > 0, self._type_checking_depth > 0,
        ))

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self._function_depth += 1
        self.generic_visit(node)
        self._function_depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _visit_function  # noqa: N815 - ast's names

    def visit_If(self, node: ast.If) -> None:
        if not is_type_checking(node.test):
            self.generic_visit(node)
            return
        self.visit(node.test)
        self._type_checking_depth += 1
        for statement in node.body:
            self.visit(statement)
        self._type_checking_depth -= 1
        for statement in node.orelse:
            self.visit(statement)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            target = known_module(alias.name)
            if target is None:
                continue
            self._add(node, target, None)
            if alias.asname:
                self.module_aliases[alias.asname] = target
            else:  # `import mds.events` binds `mds`; attribute chains start there
                root = alias.name.split(".", 1)[0]
                if root in MODULES:
                    self.module_aliases[root] = root

    def _base(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        package = self.module if self.is_package else self.module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        return f"{package}.{node.module}" if node.module else package

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self._base(node)
        target = known_module(base)
        if target is None:
            return
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            if submodule in MODULES:
                self._add(node, submodule, None)
                self.module_aliases[alias.asname or alias.name] = submodule
            elif alias.name == "*":
                self._add(node, target, None)
            else:
                self._add(node, target, alias.name)

    def visit_Call(self, node: ast.Call) -> None:
        # importlib.import_module("mds.x") with a literal name
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called == "import_module" and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            target = known_module(node.args[0].value)
            if target is not None:
                self._add(node, target, None)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        # `events._message_dict(...)` after `from mds import events`: names reached through a
        # module bound by an import count as imported from it.
        chain: list[str] = []
        value: ast.expr = node
        while isinstance(value, ast.Attribute):
            chain.append(value.attr)
            value = value.value
        if isinstance(value, ast.Name) and value.id in self.module_aliases:
            dotted = [self.module_aliases[value.id], *reversed(chain)]
            # the longest prefix that is a module, then the first name after it
            for cut in range(len(dotted), 0, -1):
                candidate = ".".join(dotted[:cut])
                if candidate in MODULES:
                    if cut < len(dotted) and is_private(dotted[cut]):
                        self._add(node, candidate, dotted[cut])
                    break
            return  # the inner attributes of this chain are already covered
        self.generic_visit(node)


def collect(module: str, path: Path) -> list[Import]:
    collector = _Collector(module, path)
    collector.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return collector.imports


IMPORTS = [found for module, path in MODULES.items() for found in collect(module, path)]


def layer_of(module: str) -> str | None:
    best: tuple[int, str] | None = None
    for layer, names, _ in LAYERS:
        for name in names:
            if module == name or (name != "mds" and module.startswith(name + ".")):
                if best is None or len(name) > best[0]:
                    best = (len(name), layer)
    return None if best is None else best[1]


RANK = {layer: rank for rank, (layer, _, _) in enumerate(LAYERS)}
NARROW = {layer: allowed for layer, _, allowed in LAYERS if allowed is not None}


def is_emulator(module: str) -> bool:
    return module == EMULATOR or module.startswith(EMULATOR + ".")


def edges(include_type_checking: bool) -> dict[str, dict[str, Import]]:
    """importer -> imported -> the first import that makes that edge."""
    graph: dict[str, dict[str, Import]] = {module: {} for module in MODULES}
    for found in IMPORTS:
        if found.importer == found.imported or (found.type_checking and not include_type_checking):
            continue
        graph[found.importer].setdefault(found.imported, found)
    return graph


def cycles(graph: dict[str, dict[str, Import]]) -> Iterator[list[Import]]:
    """One cycle (as the imports that make it) for every strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(module: str) -> None:  # Tarjan's algorithm
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in graph[module]:
            if target not in index:
                connect(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(group)

    for module in sorted(graph):
        if module not in index:
            connect(module)
    for group in groups:
        yield shortest_cycle(graph, group)


def shortest_cycle(graph: dict[str, dict[str, Import]], group: set[str]) -> list[Import]:
    start = min(group)
    paths: dict[str, list[Import]] = {start: []}
    frontier = [start]
    while frontier:  # breadth first, inside the group, back to start
        following = []
        for module in frontier:
            for target, found in sorted(graph[module].items()):
                if target == start:
                    return [*paths[module], found]
                if target in group and target not in paths:
                    paths[target] = [*paths[module], found]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # a strongly connected group has one


def describe(cycle: list[Import]) -> str:
    chain = " -> ".join([cycle[0].importer, *(found.imported for found in cycle)])
    return chain + "".join(f"\n      {found}" for found in cycle)


def check(title: str, problems: Iterable[object]) -> None:
    """Fail with one readable line (or block) per problem, and no traceback to wade through."""
    lines = sorted({str(problem) for problem in problems})
    if lines:
        pytest.fail(f"{title} ({len(lines)}):\n  " + "\n  ".join(lines), pytrace=False)


def test_the_graph_is_read() -> None:
    # A parser that silently found nothing would pass every rule below.
    assert {"mds", "mds.exceptions", "mds.api_client", "mds.emulator"} <= set(MODULES)
    assert any(i.importer == "mds" and i.imported.startswith("mds.api") for i in IMPORTS)
    assert any(i.in_function for i in IMPORTS)
    assert any(i.type_checking for i in IMPORTS)


def test_no_import_cycle_at_run_time() -> None:
    found = [describe(cycle) for cycle in cycles(edges(include_type_checking=False))]
    check("modules that import each other (counting imports inside functions)", found)


def test_no_import_cycle_counting_type_only_imports() -> None:
    found = [describe(cycle) for cycle in cycles(edges(include_type_checking=True))]
    check("modules that import each other through `if TYPE_CHECKING:` imports", found)


def test_no_module_imports_another_modules_private_name() -> None:
    found = [i for i in IMPORTS if i.name is not None and is_private(i.name) and i.imported != i.importer]
    check("private names used by another module: give what is shared a public "
                             "name (in a private module if users should not see it)", found)


def test_every_module_has_a_place() -> None:
    placeless = [m for m in MODULES if not is_emulator(m) and layer_of(m) is None]
    check(f"modules in no layer: add them to LAYERS in {Path(__file__).name}", placeless)


def test_imports_point_down_the_layers() -> None:
    found = []
    for i in IMPORTS:
        if is_emulator(i.importer) or is_emulator(i.imported) or i.imported == i.importer:
            continue
        source, target = layer_of(i.importer), layer_of(i.imported)
        if source is None or target is None:
            continue  # test_every_module_has_a_place says so
        if RANK[target] > RANK[source]:
            found.append(f"{i}  ({source} may not import the higher layer {target})")
        elif source in NARROW and target != source and target not in NARROW[source]:
            found.append(f"{i}  ({source} may import only {sorted(NARROW[source])})")
    check("imports against the layers", found)


def test_the_emulator_imports_nothing_of_the_client_but_the_version() -> None:
    found = [
        i for i in IMPORTS
        if is_emulator(i.importer) and not is_emulator(i.imported)
        and i.imported not in EMULATOR_MAY_IMPORT
        and not ((i.importer, i.imported) in EMULATOR_EXCEPTIONS and i.in_function)
    ]
    check("client modules the emulator imports", found)


def test_only_the_command_line_uses_the_emulator() -> None:
    found = [
        i for i in IMPORTS
        if is_emulator(i.imported) and not is_emulator(i.importer)
        and layer_of(i.importer) != EMULATOR_USERS
    ]
    check("client modules that import the emulator", found)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from mds._types import UNSET\n", [("mds._types", "UNSET", False)]),
        ("from mds import _types\n", [("mds._types", None, False)]),
        ("from mds.events import _message_dict\n", [("mds.events", "_message_dict", False)]),
        ("def f():\n    from mds import events\n    return events._event_list\n",
         [("mds.events", None, True), ("mds.events", "_event_list", True)]),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..models import Webhook\n",
         [("mds.models", "Webhook", False)]),
        ("import importlib\nimportlib.import_module('mds.exceptions')\n", [("mds.exceptions", None, False)]),
        ("import mds.exceptions as errors\nerrors._private\n",
         [("mds.exceptions", None, False), ("mds.exceptions", "_private", False)]),
    ],
)
def test_the_collector_reads_each_kind_of_import(
    source: str, expected: list[tuple[str, str | None, bool]]
) -> None:
    # Parsed as if it were mds/api/example.py, so `..` is `mds`.
    path = PACKAGE / "api" / "example.py"
    collector = _Collector("mds.api.example", path)
    collector.visit(ast.parse(source))
    assert [(i.imported, i.name, i.in_function) for i in collector.imports] == expected
    assert all(i.type_checking == ("TYPE_CHECKING:" in source) for i in collector.imports)


def test_a_cycle_is_found_and_shown_with_its_imports() -> None:
    def edge(importer: str, imported: str, line: int) -> Import:
        return Import(importer, imported, None, PACKAGE / "x.py", line, False, False)

    graph = {
        "mds.a": {"mds.b": edge("mds.a", "mds.b", 1)},
        "mds.b": {"mds.c": edge("mds.b", "mds.c", 2), "mds.d": edge("mds.b", "mds.d", 3)},
        "mds.c": {"mds.a": edge("mds.c", "mds.a", 4)},
        "mds.d": {},
    }
    (cycle,) = cycles(graph)
    assert describe(cycle).splitlines() == [
        "mds.a -> mds.b -> mds.c -> mds.a",
        "      mds/x.py:1: mds.a imports mds.b",
        "      mds/x.py:2: mds.b imports mds.c",
        "      mds/x.py:4: mds.c imports mds.a",
    ]
    del graph["mds.c"]["mds.a"]
    assert list(cycles(graph)) == []
