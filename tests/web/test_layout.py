"""The code map holds: no import cycle anywhere in ``lms`` (at module level or inside functions),
bottle only in the web layer and the route modules, and no module past 400 lines."""
import ast

from support import ROOT

LMS = ROOT / "lms"
HTTP_LAYERS = ("lms.web", "lms.routes")


def modules():
    """Dotted name -> path of every module of the package."""
    found = {}
    for path in LMS.rglob("*.py"):
        parts = list(path.relative_to(LMS.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name, path, known):
    """Every module of ours that ``name`` imports, wherever in the file the import is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in out if m in known and m != name}


def test_no_import_cycles():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    cycles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_bottle_is_imported_only_by_the_web_layer_and_the_routes():
    known = modules()
    users = {name for name, path in known.items()
             if any(isinstance(n, (ast.Import, ast.ImportFrom)) and "bottle" in
                    ([a.name for a in n.names] if isinstance(n, ast.Import) else [n.module or ""])
                    for n in ast.walk(ast.parse(path.read_text())))}
    assert users and all(name.startswith(HTTP_LAYERS) for name in users), sorted(users)


def test_no_module_is_past_400_lines():
    long = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in long.items() if n > 400} == {}
