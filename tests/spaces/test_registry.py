"""The registry of spaces: built-ins, classes named as package.module:Class, classes registered in Python,
their parameters validated without torch, and `cbred spaces`."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from cbred_ray.config import config_from_dict
from cbred_ray.errors import BadInput
from cbred_ray.spaces import build_space, list_spaces, register_space, space_class
from cbred_ray.spaces.cell import CellSpace

REPO = Path(__file__).resolve().parents[2]


def test_the_built_in_spaces_are_listed_first_and_build_with_their_defaults():
    assert list_spaces()[:4] == ["nb201", "cell", "nb101", "macro"]
    for name in list_spaces()[:4]:
        space = build_space(name)
        assert space.name == name and space.size > 0


def test_a_class_named_by_its_import_path_is_a_space():
    space = build_space("cbred_ray.spaces.cell:CellSpace", {"nodes": 3})
    assert isinstance(space, CellSpace) and space.nodes == 3
    config = config_from_dict({"space": {"name": "cbred_ray.spaces.cell:CellSpace", "nodes": 3}})
    assert config.space.params == {"nodes": 3, "ops": list(CellSpace().ops)}


@pytest.mark.parametrize("name, match", [
    ("no-such-space", "unknown space 'no-such-space'"),
    ("cbred_ray.spaces.cell:Nothing", "has no 'Nothing'"),
    ("no_such_package.spaces:Space", "cannot import 'no_such_package.spaces'"),
    ("cbred_ray.errors:BadInput", "not a subclass of cbred_ray.spaces.Space"),
    ("", "non-empty string"),
])
def test_what_is_not_a_space_is_refused_in_one_line(name, match):
    with pytest.raises(BadInput, match=match):
        space_class(name)


def test_a_registered_class_is_found_by_name_and_its_parameters_are_checked():
    @register_space("test-registry-cells")
    @dataclass(frozen=True)
    class Registered(CellSpace):
        name: str = "test-registry-cells"

    assert "test-registry-cells" in list_spaces() and space_class("test-registry-cells") is Registered
    assert build_space("test-registry-cells", {"nodes": 3}).size == 5 ** 3
    with pytest.raises(BadInput, match="has no parameter 'depth'"):
        config_from_dict({"space": {"name": "test-registry-cells", "depth": 3}})


def test_every_shipped_config_and_a_legacy_space_section_keep_their_meaning():
    legacy = {"name": "nb101", "nodes": 4, "ops": list(CellSpace().ops), "max_vertices": 5, "sample": None}
    assert config_from_dict({"space": legacy}).space.space().size == build_space("nb101", {"max_vertices": 5}).size
    with pytest.raises(BadInput, match="has no parameter 'nodes'"):  # a legacy key at another value is not ignored
        config_from_dict({"space": {**legacy, "nodes": 5}})


def test_cbred_spaces_lists_every_space_with_its_parameters_and_size():
    done = subprocess.run([sys.executable, "-m", "cbred_ray.cli", "spaces", "--compact"], capture_output=True,
                          text=True, check=True, cwd=REPO)
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert rows["nb201"]["size"] == build_space("nb201").size and rows["nb201"]["parameters"] == {}
    assert set(rows["macro"]["parameters"]) >= {"stem_channels", "stages", "choices"}
    assert rows["macro"]["size"] == build_space("macro").size
    assert rows["nb101"]["parameters"]["max_vertices"]["default"] == 7
