"""Measure the package layout: largest files, longest functions, function-level imports, import cycles.

Run: ``python scripts/code_shape.py [--top 15]``. Prints Markdown; used for issue 15's before/after note.
"""

from __future__ import annotations

import argparse
import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "unireps"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(tree: ast.AST, module: str, is_pkg: bool) -> list[tuple[str, bool]]:
    """(imported unireps module, inside a function?) for every import in the tree."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_func: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_func or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((a.name, in_func) for a in child.names if a.name.startswith("unireps"))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".")
                    base = base if is_pkg else base[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target.startswith("unireps"):
                    found.append((target, in_func))
            visit(child, inner)

    visit(tree, False)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            strong(v)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    files = sorted(ROOT.rglob("*.py"))
    modules = {_module_name(f) for f in files}
    sizes, funcs, local_imports = [], [], defaultdict(int)
    pkg_graph: dict[str, set[str]] = defaultdict(set)
    mod_graph: dict[str, set[str]] = defaultdict(set)
    for f in files:
        text = f.read_text()
        rel = f.relative_to(ROOT.parent.parent).as_posix()
        sizes.append((len(text.splitlines()), rel))
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n_args = len(node.args.args) + len(node.args.kwonlyargs) + len(node.args.posonlyargs)
                funcs.append((node.end_lineno - node.lineno + 1, f"{rel}:{node.name}", n_args))
        mod = _module_name(f)
        pkg = mod.split(".")[1] if mod.count(".") else "unireps"
        for target, in_func in _imports(tree, mod, f.name == "__init__.py"):
            local_imports[rel] += in_func
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            mod_graph[mod].add(target)
            tpkg = target.split(".")[1] if target.count(".") else "unireps"
            if tpkg != pkg:
                pkg_graph[pkg].add(tpkg)
    print(f"## Layout\n\n{len(files)} modules, {sum(s for s, _ in sizes)} lines in src/unireps\n")
    for d in sorted(p for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith("__")):
        n = sum(len(x.read_text().splitlines()) for x in d.rglob("*.py"))
        print(f"- `{d.name}/`: {len(list(d.rglob('*.py')))} modules, {n} lines")
    print(f"\n## Largest files (top {args.top})\n\n| lines | file |\n|---:|---|")
    for n, rel in sorted(sizes, reverse=True)[: args.top]:
        print(f"| {n} | {rel} |")
    print(f"\n## Longest functions (top {args.top})\n\n| lines | params | function |\n|---:|---:|---|")
    for n, name, n_args in sorted(funcs, reverse=True)[: args.top]:
        print(f"| {n} | {n_args} | {name} |")
    print("\n## Most parameters (top 5)\n\n| params | function |\n|---:|---|")
    for n_args, name in sorted(((a, nm) for _, nm, a in funcs), reverse=True)[:5]:
        print(f"| {n_args} | {name} |")
    print("\n## Function-level imports of unireps modules (top 8 files)\n\n| count | file |\n|---:|---|")
    for rel, n in sorted(local_imports.items(), key=lambda kv: -kv[1])[:8]:
        print(f"| {n} | {rel} |")
    cycles = _cycles(mod_graph)
    print(f"\n## Module import cycles (top-level and function-level imports): {len(cycles)}\n")
    for c in cycles:
        print(f"- {len(c)} modules: " + ", ".join(c))
    pcycles = _cycles(pkg_graph)
    print(f"\n## Package-level cycles: {len(pcycles)}\n")
    for c in pcycles:
        print("- " + ", ".join(c))


if __name__ == "__main__":
    main()
