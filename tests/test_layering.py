"""The layering the architecture promises, checked on the code itself."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cbred_ray"
REDUCTION = ("spaces", "graphs", "stats", "cluster", "select", "pipeline")
"""The sub-packages that make a reduction: none may read accuracies (evaluate/, report/)."""


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", REDUCTION)
def test_nothing_that_makes_a_reduction_imports_evaluation_or_report(package):
    for path in sorted((PACKAGE / package).rglob("*.py")):
        bad = sorted(n for n in _imports(path) if n.startswith(("cbred_ray.evaluate", "cbred_ray.report")))
        assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


@pytest.mark.parametrize("package", ("spaces", "graphs", "stats", "cluster", "select"))
def test_ray_and_the_config_objects_stay_in_the_orchestration_layer(package):
    for path in sorted((PACKAGE / package).rglob("*.py")):
        bad = sorted(n for n in _imports(path) if n == "ray" or n.startswith("ray.") or n == "cbred_ray.config")
        assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


def _loads_torch(code: str) -> bool:
    """Whether running ``code`` in a fresh interpreter (at the repository's root) imports torch."""
    done = subprocess.run([sys.executable, "-c", f"import sys; {code}; print('torch' in sys.modules)"],
                          capture_output=True, text=True, check=True, cwd=PACKAGE.parent)
    return done.stdout.strip() == "True"


def test_reading_a_config_does_not_load_torch():
    assert not _loads_torch("from cbred_ray.config import load_config; load_config('configs/nb201_cifar100_paper.yaml')")


def test_reading_a_config_with_statistic_options_does_not_load_torch():
    code = ("from cbred_ray.config import load_config; "
            "config = load_config('configs/nb201_cifar100_paper.yaml', ['stats.options={ntk_cond: {batch_size: 32}}']); "
            "assert config.stats.options == {'ntk_cond': {'batch_size': 32}}, config.stats.options")
    assert not _loads_torch(code)


def test_checking_statistic_options_does_not_load_torch():
    code = ("from cbred_ray.config import config_from_dict; from cbred_ray.errors import BadInput\n"
            "try:\n    config_from_dict({'stats': {'options': {'naswot_v2': {'temperature': 2}}}})\n"
            "except BadInput as err:\n    assert 'temperature' in str(err), err\n"
            "else:\n    raise AssertionError('an unknown option was accepted')")
    assert not _loads_torch(code)


def test_the_selection_does_not_load_torch():
    assert not _loads_torch("import cbred_ray.select.scoring")
    names = sorted(f"cbred_ray.select.{path.stem}" for path in (PACKAGE / "select").glob("*.py") if path.stem != "__init__")
    assert "cbred_ray.select.scoring" in names
    assert not _loads_torch("import " + ", ".join(["cbred_ray.select", *names]))


def _module_graph():
    """The package's modules and their imports of each other, function-level and TYPE_CHECKING imports included."""
    import networkx as nx

    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        for node in ast.walk(ast.parse(path.read_text())):
            targets = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)] \
                if isinstance(node, ast.ImportFrom) and node.module else []
            graph.add_edges_from((name, target) for target in targets if target in modules and target != name)
    return graph


def test_no_import_circle_among_the_package_modules():
    import networkx as nx

    circles = [sorted(part) for part in nx.strongly_connected_components(_module_graph()) if len(part) > 1]
    assert not circles, f"modules that import each other in a circle: {circles}"


def test_no_code_outside_a_space_branches_on_a_space_name():
    """A space's name appears as a string only in its own modules, the registry that lists the built-in ones,
    and docstrings: nothing else branches on it."""
    names = ("nb201", "nb101", "cell", "macro")
    own = {"spaces"}  # the spaces package holds every built-in space's own modules and the registry
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] in own:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                constants = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant)]
                bad = [c for c in constants if c in names]
                assert not bad, f"{path.relative_to(PACKAGE)}:{node.lineno} compares with the space name {bad[0]!r}"


def test_asking_a_closed_form_space_for_its_costs_does_not_load_torch():
    code = ("import sys, numpy as np; from cbred_ray.spaces import build_space; "
            "[build_space(n).costs(np.arange(5), 10) for n in ('nb201', 'cell', 'nb101', 'macro')]; print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=PACKAGE.parent)
    assert done.stdout.strip() == "False"


def test_a_space_names_its_benchmark_table_but_nothing_that_makes_a_reduction_reads_it():
    """The spaces declare where their accuracy table lies (``benchmark_table``, a string); only the evaluation
    and the report may read that attribute, so no stage of a reduction can reach the accuracies through it."""
    readers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "benchmark_table":
                readers.append(path.relative_to(PACKAGE).parts[0])
    assert readers and set(readers) <= {"evaluate", "report"}, readers


def test_the_networks_and_graphs_of_a_kind_of_space_live_with_that_space():
    """Networks (torch modules) are defined only in the spaces package, one package per kind; what graphs/ and
    stats/ hold serves every space: they read a space's interface, and reach a built-in space only for the
    statistics' shorthand of NB201 operation names (``stats.networks.as_networks``)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] == "spaces":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b) for b in node.bases}
                assert not bases & {"nn.Module", "nn.Sequential", "torch.nn.Module"}, \
                    f"{path.relative_to(PACKAGE)} defines the network {node.name}"
    reached = {}
    for package in ("graphs", "stats"):
        for path in sorted((PACKAGE / package).rglob("*.py")):
            kinds = {n for n in _imports(path) if n.startswith("cbred_ray.spaces.") and n != "cbred_ray.spaces.base"}
            if kinds:
                reached[str(path.relative_to(PACKAGE))] = kinds
    assert reached == {"stats/networks.py": {"cbred_ray.spaces.cell.network"}}, reached
    kinds = {p.name for p in (PACKAGE / "spaces").iterdir() if (p / "__init__.py").is_file()}
    assert {"cell", "nb101", "macro"} <= kinds
    for kind in ("cell", "nb101", "macro"):
        assert (PACKAGE / "spaces" / kind / "network.py").is_file(), kind
