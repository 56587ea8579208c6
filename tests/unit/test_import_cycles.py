"""No module imports itself through others (app, rules, loadtests), lazy imports inside functions and imports
for type checking included: a cycle is where a change to one module breaks another for no visible reason,
and it hides which way the dependency goes. `lint-imports` (make check) holds the rules between packages;
this holds the modules."""

from __future__ import annotations

import grimp


def _closing_cycles(graph: grimp.ImportGraph) -> list[tuple[str, str]]:
    """Each direct import `a -> b` where `b` also leads back to `a`."""
    return sorted((module, imported) for module in graph.modules
                  for imported in graph.find_modules_directly_imported_by(module)
                  if graph.chain_exists(importer=imported, imported=module))


def test_a_cycle_is_found() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in (("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")):
        graph.add_import(importer=importer, imported=imported)
    assert _closing_cycles(graph) == [("a", "b"), ("b", "c"), ("c", "a")]


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph("app", "rules", "loadtests", cache_dir=None)
    assert _closing_cycles(graph) == []
