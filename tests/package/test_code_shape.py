"""Functions a maintainer can read at a glance: none in the package is longer than 60 lines."""

import ast
from pathlib import Path

import keras_resnet

LONGEST = 60


def long_functions(root: Path, longest: int = LONGEST) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > longest:
                    found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({lines})")
    return found


def test_no_function_is_longer_than_60_lines():
    assert not long_functions(Path(keras_resnet.__file__).parent)


def test_the_check_sees_a_long_function(tmp_path):
    (tmp_path / "m.py").write_text("def f():\n" + "    x = 1\n" * LONGEST)
    assert long_functions(tmp_path) == [f"m.py:1 f ({LONGEST + 1})"]
