"""The import graph of mmsdt has no cycle, and mmsdt.snn imports no OpenMMLab package.

The graph is read from the source with ``ast``: every ``import`` / ``from ... import`` that
runs when a module is imported (anything outside function bodies, ``if`` / ``try`` blocks
included), relative imports resolved. An edge goes to the module named and, for ``from X
import name``, to ``X.name`` when that is a module. Importing ``a.b.c`` also imports the
packages ``a`` and ``a.b``; those edges are kept except towards the importer's own parent
packages, which Python has already put in ``sys.modules`` when the importer runs.
"""
import ast
import pkgutil
import textwrap
from pathlib import Path
from typing import Dict, List, Optional, Set

import mmsdt

OPENMMLAB = ('mmengine', 'mmcv', 'mmdet', 'mmseg', 'mmpretrain')


def _modules(root: Path, package: str) -> Dict[str, Path]:
    """Every module of the package at ``root`` (name -> source file), listed by pkgutil
    without importing anything."""
    found = {package: root / '__init__.py'}
    for info in pkgutil.iter_modules([str(root)]):
        name = f'{package}.{info.name}'
        if info.ispkg:
            found.update(_modules(root / info.name, name))
        else:
            found[name] = root / f'{info.name}.py'
    return found


def _import_time_nodes(tree: ast.AST):
    """Import statements outside function bodies."""
    stack = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child
            stack.append(child)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module
    base = module.split('.') if is_package else module.split('.')[:-1]
    base = base[:len(base) - (node.level - 1)]
    return '.'.join(base + ([node.module] if node.module else []))


def import_graph(modules: Dict[str, Path], package: str) -> Dict[str, Set[str]]:
    """Edges ``module -> modules of the package it imports`` at import time."""
    graph = {}
    for name, path in modules.items():
        is_package = path.name == '__init__.py'
        targets = set()
        for node in _import_time_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            else:
                source = _resolve(node, name, is_package)
                targets.add(source)
                targets.update(f'{source}.{a.name}' for a in node.names
                               if f'{source}.{a.name}' in modules)
        own_parents = {'.'.join(name.split('.')[:i]) for i in range(1, name.count('.') + 1)}
        if is_package:
            own_parents.add(name)
        edges = set()
        for target in targets:
            if target.split('.')[0] != package:
                continue
            parts = target.split('.')
            edges.update(p for p in ('.'.join(parts[:i]) for i in range(1, len(parts)))
                         if p not in own_parents)
            edges.add(target)
        graph[name] = {t for t in edges if t in modules and t != name}
    return graph


def find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    """One cycle of ``graph`` as a list of nodes (first == last), or None."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: List[str]) -> Optional[List[str]]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt, path)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [])
            if cycle:
                return cycle
    return None


def _write_package(root: Path, files: Dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root / 'pkg'


def test_the_checker_finds_cycles_hidden_in_packages_and_relative_imports(tmp_path):
    root = _write_package(tmp_path, {
        'pkg/__init__.py': 'from .sub import thing\n',
        'pkg/sub/__init__.py': 'from .a import thing\n',
        'pkg/sub/a.py': 'from ..b import helper\nthing = 1\n',
        'pkg/b.py': 'if True:\n    from pkg.sub import a\ndef helper():\n    from .c import x\n',
        'pkg/c.py': 'import pkg.b\n',
    })
    graph = import_graph(_modules(root, 'pkg'), 'pkg')
    assert graph['pkg.sub.a'] == {'pkg.b'}
    assert graph['pkg.b'] == {'pkg.sub', 'pkg.sub.a'}  # not pkg.c: imported inside a function
    assert graph['pkg.c'] == {'pkg.b'}
    assert find_cycle(graph) == ['pkg.sub', 'pkg.sub.a', 'pkg.b', 'pkg.sub']
    (root / 'b.py').write_text('def helper():\n    pass\n')
    assert find_cycle(import_graph(_modules(root, 'pkg'), 'pkg')) is None


def test_mmsdt_has_no_import_cycle():
    modules = _modules(Path(mmsdt.__file__).parent, 'mmsdt')
    assert {'mmsdt.snn.neuron', 'mmsdt.snn.spike_train', 'mmsdt.models.backbones'} <= set(modules)
    graph = import_graph(modules, 'mmsdt')
    assert 'mmsdt.snn.spike_train' in graph['mmsdt.snn.neuron']
    assert find_cycle(graph) is None, ' -> '.join(find_cycle(graph))


def test_no_mmsdt_module_is_imported_lazily():
    """An import of an mmsdt module inside a function is what hides a cycle from the graph
    (lazy imports stay allowed for optional third-party packages)."""
    lazy = []
    for name, path in _modules(Path(mmsdt.__file__).parent, 'mmsdt').items():
        tree = ast.parse(path.read_text())
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef,
                                                                  ast.AsyncFunctionDef))]
        for func in functions:
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom) and (node.level or
                                                         node.module.startswith('mmsdt')):
                    lazy.append(f'{name}:{node.lineno}')
                elif isinstance(node, ast.Import) and any(
                        a.name.split('.')[0] == 'mmsdt' for a in node.names):
                    lazy.append(f'{name}:{node.lineno}')
    assert not lazy, lazy


def test_snn_imports_nothing_from_openmmlab():
    root = Path(mmsdt.__file__).parent / 'snn'
    for name, path in _modules(root, 'snn').items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            else:
                continue
            assert not [n for n in names if n.split('.')[0] in OPENMMLAB], (name, names)
