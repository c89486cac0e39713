"""import-linter contract type ``root_face`` (``[tool.importlinter]`` in ``pyproject.toml``).

The layers contract cannot tell ``from ssdfl import _core`` (the compiled extension, which the
import scanner sees only as an import of the package root ``ssdfl``) from
``from ssdfl import plan_formation`` (a public name of a higher layer, reached through the
root's lazy re-exports). So it ignores every import of the root, and this contract closes that
door: a module may import from the package root only the names listed in ``allowed_names``
(``_core``); every other import of the root — ``import ssdfl``, ``from ssdfl import Graph`` —
breaks it. Submodules of the root (``ssdfl.errors``, ``ssdfl._atomic``, …) are modules of their
own and are checked by the layers contract like any other. ``docs/architecture.md``.
"""

from __future__ import annotations

import ast

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output


class RootFaceContract(Contract):
    """Only ``allowed_names`` may be imported through the package ``root``.

    Options: ``root`` (the package), ``allowed_names`` (names of the root a module may import,
    e.g. a compiled extension the scanner cannot see as a module)."""

    type_name = "root_face"

    root = fields.StringField()
    allowed_names = fields.SetField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        root = str(self.root)
        allowed = {str(n) for n in self.allowed_names}  # type: ignore[attr-defined]
        bad: list[str] = []
        for importer in sorted(graph.find_modules_that_directly_import(root)):
            if importer == root:
                continue
            for d in graph.get_import_details(importer=importer, imported=root):
                line = str(d["line_contents"]).strip()
                if not _only_allowed(line, root, allowed):
                    bad.append(f"{importer}:{d['line_number']}: {line}")
        output.verbose_print(verbose, f"{len(bad)} import(s) through {root} not allowed")
        return ContractCheck(kept=not bad, metadata={"bad": bad})

    def render_broken_contract(self, check: ContractCheck) -> None:
        allowed = ", ".join(sorted(str(n) for n in self.allowed_names))  # type: ignore[attr-defined]
        output.print_error(
            f"Imported through the package root {self.root} (only {allowed} may be; import "
            "a public name from the module that defines it):",
            bold=False,
        )
        for line in check.metadata["bad"]:
            output.indent_cursor()
            output.print_error(line, bold=False)
        output.new_line()


def _only_allowed(line: str, root: str, allowed: set[str]) -> bool:
    """Whether the import statement ``line`` imports only ``allowed`` names from ``root``."""
    try:
        tree = ast.parse(line)
    except SyntaxError:  # a multi-line import: not the allowed one-line form
        return False
    stmt = tree.body[0] if len(tree.body) == 1 else None
    return (
        isinstance(stmt, ast.ImportFrom)
        and stmt.level == 0
        and stmt.module == root
        and all(a.name in allowed for a in stmt.names)
    )
