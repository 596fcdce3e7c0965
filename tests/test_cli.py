"""The installed `keras-resnet` console script."""

import re

from conftest import keras_resnet_cli

PAPER = {"resnet18": 1.8, "resnet34": 3.6, "resnet50": 3.8, "resnet101": 7.6, "resnet152": 11.3}


def test_table_prints_paper_table_1():
    result = keras_resnet_cli("table", "--plain", "--cifar", "3")
    assert result.returncode == 0, result.stderr
    rows = {m[0]: m[1:] for m in re.findall(r"^(\w+)\s+(\d+)\s+\[.*?\] x \w+\s+([\d,]+)\s+([\d.]+)", result.stdout, re.M)}
    assert set(rows) == {*PAPER, "plainnet18", "plainnet34", "plainnet50", "plainnet101", "plainnet152", "cifar_resnet20"}
    for name, paper_gmacs in PAPER.items():
        layers, params, gmacs = rows[name]
        assert int(layers) == int(name[6:])
        assert abs(float(gmacs) - paper_gmacs) <= 0.1
    assert rows["resnet50"][1] == "25,557,032"
    assert rows["cifar_resnet20"][:2] == ("20", "269,722")


def test_bad_arguments_are_reported():
    result = keras_resnet_cli("table", "--variant", "v3")
    assert result.returncode == 2 and "invalid choice: 'v3'" in result.stderr
    result = keras_resnet_cli("table", "--cifar", "0")
    assert result.returncode == 2 and "N must be >= 1" in result.stderr
