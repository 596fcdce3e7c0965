"""The package's layers import downward only: each subpackage may import its own modules and
those of the layers below it, never one above (deferred imports inside functions count too).
This list is the one place the order is written (CONTRIBUTING.md explains it)."""

import ast
from pathlib import Path

import keras_resnet

LAYERS = ("core", "data", "pretrained", "models", "training", "evaluation", "deploy", "explain", "cli")
# the two import-time guards beside `core`; keras.applications' module names (`resnet`, `resnet50`,
# `resnet_v2`), the networks under keras.applications' defaults, with `models`; and the package's
# own lazy front door on top
TOP_LEVEL = {"_distribution": "core", "onednn": "core", "resnet": "models", "resnet50": "models",
             "resnet_v2": "models", "__init__": "cli", "__main__": "cli"}
PACKAGE = Path(keras_resnet.__file__).parent


def layer_of(module: str) -> str:
    """The layer of a dotted module name under keras_resnet ("keras_resnet.models.builder": models)."""
    parts = module.split(".")[1:] or ["__init__"]
    return TOP_LEVEL.get(parts[0], parts[0])


def imports(path: Path) -> set[str]:
    """The keras_resnet modules a source file imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("keras_resnet")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("keras_resnet"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if node.module == "keras_resnet"}
    return found


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(("keras_resnet", *parts))] = path
    return out


def test_every_subpackage_has_a_layer():
    names = {layer_of(m) for m in modules()}
    assert names <= set(LAYERS), f"subpackages missing from LAYERS: {sorted(names - set(LAYERS))}"


def test_imports_go_downward_only():
    upward = []
    for module, path in sorted(modules().items()):
        here = LAYERS.index(layer_of(module))
        for imported in sorted(imports(path)):
            if LAYERS.index(layer_of(imported)) > here:
                upward.append(f"{module} imports {imported}")
    assert not upward, "imports that climb a layer:\n" + "\n".join(upward)


def test_no_two_subpackages_import_each_other():
    edges = {(layer_of(m), layer_of(i)) for m, p in modules().items() for i in imports(p)}
    cycles = sorted((a, b) for a, b in edges if a < b and (b, a) in edges)
    assert not cycles, f"subpackages that import each other: {cycles}"


def test_the_check_sees_an_upward_import(tmp_path):
    """The checker itself: a module of `core` that imports `models` is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from keras_resnet.models.builder import build_resnet\n")
    assert imports(bad) == {"keras_resnet.models.builder"}
    assert LAYERS.index(layer_of("keras_resnet.models.builder")) > LAYERS.index(layer_of("keras_resnet.core.atomic"))
