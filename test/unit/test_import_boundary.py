"""
The rule the architecture rests on: the pure packages never import rclpy, Kivy or MuJoCo.

robot_touch/core, protocols, virtual_arm and bridge are plain Python, tested without ROS, a
display or a simulator; nodes, ui and sim wrap them. The check is static (every import
statement, function-level ones included, parsed with ast, and ``importlib.import_module`` /
``__import__`` with a literal name) and follows our own modules: a pure module that imports
``robot_touch.paths`` breaks the rule if ``robot_touch.paths`` imports rclpy.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE = ('core', 'protocols', 'virtual_arm', 'bridge')
FORBIDDEN = ('rclpy', 'kivy', 'mujoco')


def _module_name(package_root: Path, path: Path) -> str:
    """Return the dotted name of ``path`` inside the package at ``package_root``."""
    parts = list(path.relative_to(package_root.parent).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def _imports(path: Path, module: str) -> list[tuple[str, int]]:
    """
    Return every module ``path`` imports, with the line, relative imports made absolute.

    :param path: the source file.
    :param module: its dotted name (relative imports are resolved against it).
    :returns: (imported module, line number), in file order.
    """
    is_package = path.name == '__init__.py'
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split('.')
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ''
            found.append((target, node.lineno))
            if target.split('.')[0] not in FORBIDDEN:
                # ``from robot_touch.core import kinematics`` imports a module, too.
                found += [(f'{target}.{alias.name}', node.lineno) for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, 'attr', getattr(node.func, 'id', None))
            in ('import_module', '__import__')
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.args[0].value, node.lineno))
    return found


def boundary_violations(package_root: Path, pure: tuple[str, ...] = PURE) -> list[str]:
    """
    Return one line per forbidden import reached from a pure module, with the chain.

    :param package_root: the ``robot_touch`` folder (or a stand-in in a test).
    :param pure: the subpackages that must stay free of rclpy, Kivy and MuJoCo.
    """
    files = {_module_name(package_root, p): p for p in sorted(package_root.rglob('*.py'))}
    prefix = package_root.name

    def own_file(name: str) -> str | None:
        # ``a.b.c`` may name a module, or a class/function inside module ``a.b``.
        while name.startswith(prefix):
            if name in files:
                return name
            name = name.rpartition('.')[0]
        return None

    violations: list[str] = []
    for start in sorted(files):
        if start.split('.')[1:2] not in [[p] for p in pure]:
            continue
        seen = {start}
        stack: list[tuple[str, list[str]]] = [(start, [])]
        while stack:
            module, chain = stack.pop()
            path = files[module]
            where = path.relative_to(package_root.parent)
            for imported, line in _imports(path, module):
                top = imported.split('.')[0]
                step = f'{where}:{line} imports {imported}'
                if top in FORBIDDEN:
                    violations.append(' -> '.join([*chain, step]))
                    continue
                own = own_file(imported)
                if own is not None and own not in seen:
                    seen.add(own)
                    stack.append((own, [*chain, step]))
    return sorted(set(violations))


def test_pure_packages_never_import_rclpy_kivy_or_mujoco() -> None:
    """Check core/, protocols/, virtual_arm/ and bridge/: no rclpy, kivy or mujoco, even lazily."""
    violations = boundary_violations(ROOT / 'robot_touch')
    assert not violations, (
        'the pure packages must not import rclpy, kivy or mujoco (move the code to nodes/, ui/ '
        'or sim/, or pass the object in):\n' + '\n'.join(violations)
    )


@pytest.fixture
def fake_package(tmp_path: Path) -> Path:
    """Provide a small package laid out like robot_touch, pure today."""
    root = tmp_path / 'robot_touch'
    for folder in ('core', 'protocols', 'nodes'):
        (root / folder).mkdir(parents=True)
        (root / folder / '__init__.py').write_text('')
    (root / '__init__.py').write_text('')
    (root / 'paths.py').write_text('import os\n')
    (root / 'core' / 'motion.py').write_text('from robot_touch import paths\nimport math\n')
    (root / 'nodes' / 'teleop.py').write_text(
        'import rclpy\nfrom robot_touch.core import motion\n'
    )
    return root


def test_the_check_finds_direct_lazy_relative_and_transitive_imports(fake_package: Path) -> None:
    """Check that the check itself sees each way a forbidden import can arrive, with its line."""
    assert boundary_violations(fake_package) == [], 'nodes/ may import rclpy'
    core = fake_package / 'core'
    (core / 'direct.py').write_text('"""Doc."""\n\nimport kivy.app\n')
    (core / 'lazy.py').write_text('def f():\n    from mujoco import viewer\n')
    (core / 'by_name.py').write_text('import importlib\nimportlib.import_module("rclpy.node")\n')
    (fake_package / 'protocols' / 'rel.py').write_text('from ..nodes import teleop\n')
    (fake_package / 'paths.py').write_text('import os\n\n\ndef g():\n    import rclpy\n')
    assert boundary_violations(fake_package) == [
        'robot_touch/core/by_name.py:2 imports rclpy.node',
        'robot_touch/core/direct.py:3 imports kivy.app',
        'robot_touch/core/lazy.py:2 imports mujoco',
        'robot_touch/core/motion.py:1 imports robot_touch.paths -> '
        'robot_touch/paths.py:5 imports rclpy',
        'robot_touch/protocols/rel.py:1 imports robot_touch.nodes.teleop -> '
        'robot_touch/nodes/teleop.py:1 imports rclpy',
        'robot_touch/protocols/rel.py:1 imports robot_touch.nodes.teleop -> '
        'robot_touch/nodes/teleop.py:2 imports robot_touch.core.motion -> '
        'robot_touch/core/motion.py:1 imports robot_touch.paths -> '
        'robot_touch/paths.py:5 imports rclpy',
    ]
