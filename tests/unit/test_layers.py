"""Dependencies point inwards: an adapter implements a port, so from the services layer it may import
the port modules only, never a use case (whose module may itself import adapters through wiring)."""
from __future__ import annotations

import ast
from pathlib import Path

import chalicelib

ADAPTERS = Path(chalicelib.__file__).parent / "adapters"
# The modules of the services layer that hold ports.
PORT_MODULES = {"ports", "returns_port", "pricing_store", "accounts_port"}


def _services_imports(path: Path) -> set[str]:
    """The services modules a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module == "services":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 2 and (node.module or "").startswith("services."):
            found.add(node.module.split(".", 1)[1])
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            found |= {n.split(".")[2] for n in names if n.startswith("chalicelib.services.")}
    return found


def test_adapters_import_only_ports_from_the_services_layer():
    upward = {p.name: sorted(_services_imports(p) - PORT_MODULES) for p in sorted(ADAPTERS.glob("*.py"))}
    assert {name: mods for name, mods in upward.items() if mods} == {}


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from ..services.webhooks import queue_message\n")
    assert _services_imports(module) == {"webhooks"}
