"""The zero-cost statistics' correlation with NB201 (NB101, DARTS) accuracy, beside the numbers their papers publish.

    python benchmarks/score_sample.py --n 1000 --seed 0 --source cifar10-sample20 --num-classes 10 \\
        --stats synflow,jacov,l2_norm,meco,grad_norm,snip,grasp,fisher,plain,epe_nas --out STORE_A
    python benchmarks/score_sample.py --n 1000 --seed 0 --source cifar10-sample20 --num-classes 10 \\
        --stats zen,az_expressivity,az_progressivity,az_trainability,az_complexity,zico,swap --out STORE_B
    python benchmarks/zero_cost_faithfulness.py --stats STORE_A/stats --stats STORE_B/stats --dataset cifar10 \\
        --benchmark ../shared/nb201/nb201_test_accuracy.parquet --out benchmarks/results/zero_cost_faithfulness_cifar10
    python benchmarks/zero_cost_faithfulness.py --space nb101 --stats NB101_STORE/stats --dataset cifar10 \\
        --benchmark ../shared/nb101/nb101_test_accuracy.parquet --out benchmarks/results/zero_cost_faithfulness_nb101_cifar10
    python benchmarks/zero_cost_faithfulness.py --space darts --stats STORE/stats --dataset cifar10 \\
        --benchmark ../shared/nb301/nb301_cifar10_sample400.parquet --out benchmarks/results/zero_cost_faithfulness_darts_cifar10

Each ``--stats`` is a stats dataset (a store's, or a Parquet with the space's identifier column, ``arch_str``,
NB101's ``hash`` or DARTS's ``compact``, and statistic columns); their columns are joined on it (the same
architectures: one seeded sample). For every statistic, and for
AZ-NAS's aggregate (the log-rank sum of its four components over the architectures scored, ``az_nas``),
Kendall τ and Spearman ρ with the dataset's accuracy (signed, oriented by the registry, each with a
bootstrap 95 % interval over architectures; an architecture on which a statistic failed, e.g. a cell whose
output is cut off from its input, is ranked last by it, as NASLib's NaN -> -1e8 does), beside the published number of the reference whose setup the
statistic follows (``PUBLISHED``: the value, the measure, the accuracy and the architectures it was
measured over, and where it was read). "within" says whether ours is within 0.03 of it on the same
measure. Other published numbers for the same statistic, from papers that re-evaluated it under their own
protocol (``OTHERS``: e.g. ZiCo's Table 1 re-runs the zero-cost set with Kendall τ on test accuracy over the
whole space, our table's own accuracy), are set beside it in the same way. ``--rejudge OUT.json`` sets the
current reference tables beside an earlier run's correlations without recomputing them. The published numbers
are the papers', never an input to a statistic or a reduction. The accuracy is the table's: test accuracy for
NB201 and NB101; for DARTS the CIFAR-10 validation accuracy NAS-Bench-Suite-Zero records for NAS-Bench-301
(``cifar10_val_acc``), the accuracy its published NB301 numbers are measured against.

When the benchmark table carries NAS-Bench-Suite-Zero's own scores for its architectures (``zc_*`` columns, as
the NB301 table does), each is correlated with the same accuracy, with the same bootstrap, over the same joined
architectures as ours (``suite_scores_same_archs``, under our statistic's name: ``zc_nwot`` is ``naswot_v2``):
what the suite's implementation gives on exactly the architectures we score, beside ours and its published
number (which is over other architectures). These scores are facts about the architectures, only compared
against, never an input to anything.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from provenance import provenance
from scipy.stats import kendalltau, spearmanr

from cbred_ray.errors import BadInput
from cbred_ray.evaluate.benchmark import accuracy_columns, load_benchmark
from cbred_ray.select.scoring import AZ_COMPONENTS, az_nas
from cbred_ray.spaces import space_of
from cbred_ray.stats.registry import STATISTICS

TOLERANCE = 0.03

ZC = ("Abdelfattah et al., ICLR 2021, zero-cost-nas notebooks/nasbench201_correlations.ipynb, Table 1",
      "|spearman|", "test (cifar10-valid for CIFAR-10), 200 epochs", "all 15,625")
SUITE = ("Krishnakumar et al., NeurIPS 2022 D&B (NAS-Bench-Suite-Zero), Figs. 2 and 6", "spearman",
         "validation", "1,000 random")
AZ = ("Lee and Ham, CVPR 2024 (AZ-NAS), Table 1 and the Table 4 ablation (read from a third-party copy; "
      "CIFAR-10 aggregate confirmed by the authors' NB201/tss_general.ipynb output: 0.7409)", "kendall", "test",
      "all 15,625")
ZICO = ("Li et al., ICLR 2023 (ZiCo), Table 1 (NATS-Bench-TSS)", "kendall", "test", "all 15,625")
MECO = ("Jiang et al., NeurIPS 2023 (MeCo), Table 1 (read from a third-party copy; the abstract gives 0.89 on "
        "CIFAR-10)", "spearman", "test", "all 15,625")
SWAP = ("Peng et al., ICLR 2024 (SWAP-NAS), abstract: regularised SWAP, CIFAR-100 only; its μ and σ for NB201 "
        "are not published", "spearman", "validation", "not stated")
VKDNW = ("Týbl and Neumann, CVPR 2025 (VKDNW), Table 1 (github.com/ondratybl/VKDNW README, table1.png): "
         "VKDNW_single, mean over 5 seeds; over the networks of GRAF's feature file (about 6,000 isomorphism-unique "
         "cells without unreachable operations), not all 15,625", "kendall", "test", "about 6,000 unique")

NB201: dict[str, dict[str, tuple[float, tuple[str, str, str, str]]]] = {
    "grad_norm": {"cifar10": (0.594, ZC), "cifar100": (0.637, ZC)},
    "snip": {"cifar10": (0.596, ZC), "cifar100": (0.637, ZC)},
    "grasp": {"cifar10": (0.514, ZC), "cifar100": (0.547, ZC)},
    "fisher": {"cifar10": (0.36, ZC), "cifar100": (0.385, ZC)},
    "synflow": {"cifar10": (0.737, ZC), "cifar100": (0.763, ZC)},
    "jacov": {"cifar10": (0.731, ZC), "cifar100": (0.704, ZC)},
    "epe_nas": {"cifar10": (0.70, SUITE), "cifar100": (0.60, SUITE)},
    "l2_norm": {"cifar10": (0.68, SUITE), "cifar100": (0.72, SUITE)},
    "plain": {"cifar10": (-0.26, SUITE), "cifar100": (-0.21, SUITE)},
    "zen": {"cifar10": (0.35, SUITE), "cifar100": (0.35, SUITE)},
    "naswot_v2": {"cifar10": (0.77, SUITE), "cifar100": (0.80, SUITE)},
    "az_nas": {"cifar10": (0.741, AZ), "cifar100": (0.723, AZ)},
    "az_expressivity": {"cifar10": (0.569, AZ), "cifar100": (0.563, AZ)},
    "az_progressivity": {"cifar10": (0.521, AZ), "cifar100": (0.508, AZ)},
    "az_trainability": {"cifar10": (0.349, AZ), "cifar100": (0.353, AZ)},
    "az_complexity": {"cifar10": (0.578, AZ), "cifar100": (0.551, AZ)},
    "zico": {"cifar10": (0.61, ZICO), "cifar100": (0.61, ZICO)},
    "meco": {"cifar10": (0.894, MECO), "cifar100": (0.883, MECO)},
    "swap": {"cifar100": (0.90, SWAP)},
    "vkdnw": {"cifar10": (0.618, VKDNW), "cifar100": (0.634, VKDNW)},
}
ZC101 = ("Abdelfattah et al., ICLR 2021, zero-cost-nas notebooks/nasbench101_correlations.ipynb (saved output)",
         "|spearman|", "test (the benchmark's first stored accuracy)", "all 423,624")
SUITE101 = ("Krishnakumar et al., NeurIPS 2022 D&B (NAS-Bench-Suite-Zero), Fig. 2, NB101-CF10", "spearman",
            "validation", "1,000 random of 10,000 scored")
ZICO101 = ("Li et al., ICLR 2023 (ZiCo), Fig. 3 (all 423K cells: the authors in their repository's issue #1)",
           "kendall", "test", "all 423,624")
NB101: dict[str, dict[str, tuple[float, tuple[str, str, str, str]]]] = {
    "grad_norm": {"cifar10": (0.198, ZC101)},
    "snip": {"cifar10": (0.164, ZC101)},
    "grasp": {"cifar10": (0.448, ZC101)},
    "fisher": {"cifar10": (0.257, ZC101)},
    "synflow": {"cifar10": (0.372, ZC101)},
    "jacov": {"cifar10": (0.378, ZC101)},
    "epe_nas": {"cifar10": (0.00, SUITE101)},
    "l2_norm": {"cifar10": (0.50, SUITE101)},
    "plain": {"cifar10": (-0.32, SUITE101)},
    "zen": {"cifar10": (0.59, SUITE101)},
    "naswot_v2": {"cifar10": (0.31, SUITE101)},
    "zico": {"cifar10": (0.46, ZICO101)},
}
"""NB101 CIFAR-10: one reference per statistic, the one whose setup it follows (as for NB201); the other
published NB101 numbers are in ``OTHERS`` (#Params from ZiCo and Suite-Zero is left out: our params is a cost,
oriented against accuracy). MeCo, SWAP and AZ-NAS publish none."""
SUITE301 = ("Krishnakumar et al., NeurIPS 2022 D&B (NAS-Bench-Suite-Zero), Figs. 2 and 6, NB301-CF10 (the heat "
            "maps' cell labels as the text layer of arXiv 2210.03230v1 gives them; Fig. 6, the full version, one row "
            "per proxy, agrees with Fig. 2)", "spearman", "validation", "1,000 random of 11,221 scored")
NB301: dict[str, dict[str, tuple[float, tuple[str, str, str, str]]]] = {
    "grad_norm": {"cifar10": (-0.04, SUITE301)},
    "snip": {"cifar10": (-0.05, SUITE301)},
    "grasp": {"cifar10": (0.34, SUITE301)},
    "fisher": {"cifar10": (-0.28, SUITE301)},
    "synflow": {"cifar10": (0.18, SUITE301)},
    "jacov": {"cifar10": (-0.04, SUITE301)},
    "epe_nas": {"cifar10": (0.00, SUITE301)},
    "l2_norm": {"cifar10": (0.45, SUITE301)},
    "plain": {"cifar10": (-0.32, SUITE301)},
    "zen": {"cifar10": (0.43, SUITE301)},
    "naswot_v2": {"cifar10": (0.47, SUITE301)},
}
"""DARTS (NAS-Bench-301) CIFAR-10: NAS-Bench-Suite-Zero's numbers, the only ones found for this space (zero-cost-nas
has no NB301 notebook); its flops (0.42) is in ``OTHERS`` beside AZ-NAS's complexity, its params (0.46) is left out
(our params is a cost, oriented against accuracy)."""
PUBLISHED = {"nb201": NB201, "nb101": NB101, "darts": NB301}
"""Per space, per statistic, per dataset: the published value and (source, measure, accuracy, architectures)."""

ZICO_OTHERS = ("Li et al., ICLR 2023 (ZiCo), Table 1 (NATS-Bench-TSS): its re-evaluation of the other statistics",
               "kendall", "test", "all 15,625")
SUITE_FLOPS = ("Krishnakumar et al., NeurIPS 2022 D&B (NAS-Bench-Suite-Zero), Figs. 2 and 6: flops", "spearman",
               "validation", "1,000 random")
SUITE101_FLOPS = ("Krishnakumar et al., NeurIPS 2022 D&B (NAS-Bench-Suite-Zero), Fig. 2, NB101-CF10: flops",
                  "spearman", "validation", "1,000 random of 10,000 scored")
ZICO101_FLOPS = ("Li et al., ICLR 2023 (ZiCo), Fig. 3 (all 423K cells): FLOPs", "kendall", "test", "all 423,624")
SUITE301_FLOPS = ("Krishnakumar et al., NeurIPS 2022 D&B (NAS-Bench-Suite-Zero), Figs. 2 and 6, NB301-CF10: flops "
                  "(the heat maps' cell label in the text layer of arXiv 2210.03230v1)", "spearman", "validation",
                  "1,000 random of 11,221 scored")
OTHERS: dict[str, dict[str, dict[str, list[tuple[float, tuple[str, str, str, str]]]]]] = {
    "nb201": {
        "grad_norm": {"cifar10": [(0.46, ZICO_OTHERS), (0.58, SUITE)], "cifar100": [(0.47, ZICO_OTHERS), (0.63, SUITE)]},
        "snip": {"cifar10": [(0.46, ZICO_OTHERS), (0.58, SUITE)], "cifar100": [(0.46, ZICO_OTHERS), (0.63, SUITE)]},
        "grasp": {"cifar10": [(0.37, ZICO_OTHERS), (0.51, SUITE)], "cifar100": [(0.36, ZICO_OTHERS), (0.54, SUITE)]},
        "fisher": {"cifar10": [(0.40, ZICO_OTHERS), (0.50, SUITE)], "cifar100": [(0.41, ZICO_OTHERS), (0.54, SUITE)]},
        "synflow": {"cifar10": [(0.54, ZICO_OTHERS), (0.73, SUITE)], "cifar100": [(0.57, ZICO_OTHERS), (0.76, SUITE)]},
        "jacov": {"cifar10": [(0.75, SUITE)], "cifar100": [(0.71, SUITE)]},
        "zen": {"cifar10": [(0.29, ZICO_OTHERS)], "cifar100": [(0.28, ZICO_OTHERS)]},
        "naswot_v2": {"cifar10": [(0.58, ZICO_OTHERS)], "cifar100": [(0.62, ZICO_OTHERS)]},
        "az_complexity": {"cifar10": [(0.69, SUITE_FLOPS)], "cifar100": [(0.71, SUITE_FLOPS)]},
    },
    "nb101": {
        "grad_norm": {"cifar10": [(-0.17, ZICO101), (-0.25, SUITE101)]},
        "snip": {"cifar10": [(-0.12, ZICO101), (-0.19, SUITE101)]},
        "grasp": {"cifar10": [(0.20, ZICO101), (0.27, SUITE101)]},
        "fisher": {"cifar10": [(-0.20, ZICO101), (-0.28, SUITE101)]},
        "synflow": {"cifar10": [(0.23, ZICO101), (0.31, SUITE101)]},
        "jacov": {"cifar10": [(-0.29, SUITE101)]},
        "zen": {"cifar10": [(0.46, ZICO101)]},
        "az_complexity": {"cifar10": [(0.31, ZICO101_FLOPS), (0.36, SUITE101_FLOPS)]},
    },
    "darts": {
        "az_complexity": {"cifar10": [(0.42, SUITE301_FLOPS)]},
    },
}
"""Per space, per statistic, per dataset: further published values, each on its own reference's measure."""


def batches_of(path: Path) -> list[str]:
    """How the batches behind a stats dataset were drawn: from the store's manifest beside it, or, for a file
    that carries its own (the whole-space file), from its metadata, with the settings of every set merged in."""
    manifest, added = path.parent / "manifest.json", {}
    if manifest.is_file():
        manifest = json.loads(manifest.read_text())
    elif path.is_file():
        metadata = pq.read_schema(path).metadata or {}
        manifest = json.loads(metadata.get(b"cbred_manifest", b"{}"))
        added = json.loads(metadata.get(b"cbred_added_columns", b"{}"))
    else:
        manifest = {}
    batch = manifest.get("stages", {}).get("stats", {}).get("batch", {})
    hows = [batch["how"]] if isinstance(batch, dict) and batch.get("how") else []
    if added and hows:
        hows = [f"{', '.join(manifest.get('config', {}).get('stats', {}).get('names', []))}: {hows[0]}"]
    sets = {tuple(s["names"]): s for s in added.values() if "names" in s}
    return hows + [f"{', '.join(names)}: {s['source']}, batch {s['batch_size']}, {s['num_classes']} classes, "
                   f"seed {s['seed']}" for names, s in sets.items()]


def read_stats(paths: list[str], id_column: str) -> pd.DataFrame:
    """The statistic columns of several stats datasets, inner-joined on the space's identifier column."""
    frames = [pd.read_parquet(path) for path in paths]
    frames = [frame[[id_column, *[c for c in frame.columns if c in STATISTICS]]] for frame in frames]
    stats = frames[0]
    for frame in frames[1:]:
        stats = stats.merge(frame, on=id_column, how="inner")
    return stats


SUITE_NAMES = {"nwot": "naswot_v2"}
"""NAS-Bench-Suite-Zero's score names (a ``zc_`` column's after the prefix) that are not ours."""
SUITE_SCORES_SOURCE = ("NAS-Bench-Suite-Zero's own scores of the benchmark table's architectures (its zc_* columns, "
                       "from NASLib's zero-cost benchmark file)")


def suite_scores(path: str | Path, space) -> pd.DataFrame | None:
    """The NAS-Bench-Suite-Zero scores (``zc_*`` columns) a benchmark table carries for its architectures, by the
    space's identifier in its written form (as ``load_benchmark`` writes it), for the rows of the space; None when
    it carries none. Facts about the architectures, set beside ours, never an input."""
    frame = pd.read_parquet(path)
    columns = [c for c in frame.columns if isinstance(c, str) and c.startswith("zc_")]
    if not columns:
        return None
    key = space.id_column
    frame = frame[np.asarray(space.member_mask(frame[key].tolist()), dtype=bool)]
    ids = space.format_ids(space.parse_ids(frame[key].tolist()))
    return pd.DataFrame({key: ids, **{c: frame[c].to_numpy(dtype=np.float64) for c in columns}})


def stats_arguments(paths: list[str]) -> str:
    """The ``--stats`` arguments as a result file records them: committed inputs by their path, others as STORE_i."""
    return " ".join(f"--stats {path}" if path.startswith("benchmarks/") else f"--stats STORE_{i}/stats"
                    for i, path in enumerate(paths))


def correlations(values: np.ndarray, accuracy: np.ndarray, bootstrap: int, rng: np.random.Generator) -> dict:
    """Kendall τ and Spearman ρ of oriented ``values`` with ``accuracy``, each with a bootstrap 95 % interval."""
    out = {}
    for measure, fn in (("kendall", kendalltau), ("spearman", spearmanr)):
        value = float(fn(values, accuracy).statistic)
        draws = []
        for _ in range(bootstrap):
            pick = rng.integers(len(values), size=len(values))
            draws.append(fn(values[pick], accuracy[pick]).statistic)
        low, high = np.nanpercentile(draws, [2.5, 97.5]) if draws else (np.nan, np.nan)
        out[measure] = {"value": round(value, 4), "ci95": [round(float(low), 4), round(float(high), 4)]}
    return out


def oriented_columns(stats: pd.DataFrame) -> dict[str, pd.Series]:
    """Every registered statistic of ``stats``, oriented so that higher is better, and AZ-NAS's aggregate."""
    columns = {name: stats[name] * (1.0 if STATISTICS[name].higher_is_better else -1.0)
               for name in stats.columns if name in STATISTICS}
    if all(name in stats.columns for name in AZ_COMPONENTS):
        columns["az_nas"] = az_nas(stats)
    return columns


def ranked_last(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``values`` with the failed (non-finite) ones ranked last, as the references' NaN -> -1e8 (NASLib) or 0 do,
    and which failed."""
    failed = ~np.isfinite(values)
    if failed.any() and not failed.all():
        values = np.where(failed, np.nanmin(values[~failed]) - 1.0, values)
    return values, failed


def accuracy_column_of(table: pd.DataFrame, dataset: str) -> str:
    """The table's accuracy column for ``dataset``: its ``DATASET_test_acc`` or ``DATASET_acc``, else its
    ``DATASET_val_acc`` (the NB301 table's ``cifar10_val_acc``, whose dataset the table names ``cifar10_val``)."""
    columns = accuracy_columns(table)
    if dataset in columns:
        return columns[dataset]
    if f"{dataset}_val" in columns:
        return columns[f"{dataset}_val"]
    raise ValueError(f"no accuracy column for {dataset!r} among {list(columns.values())}")


def in_written_form(stats: pd.DataFrame, table: pd.DataFrame, space: str) -> pd.DataFrame:
    """``stats`` with each identifier the table lacks re-spelled in the space's written form, as the table's are
    (a DARTS cell given with a node's two edges in the other order joins the architecture it names); identifiers
    the table has, as a store writes them, are left as they are, and so are all when one does not parse."""
    key = space_of(space).id_column
    unknown = ~stats[key].isin(set(table[key])).to_numpy()
    if not unknown.any():
        return stats
    the_space, texts = space_of(space), stats[key].to_numpy(dtype=object)[unknown]
    try:
        inside = np.asarray(the_space.member_mask(list(texts)), dtype=bool)
        texts[inside] = the_space.format_ids(the_space.parse_ids(list(texts[inside])))
    except (BadInput, KeyError, ValueError):  # an identifier this space cannot read: joined as written
        return stats
    stats = stats.copy()
    stats.loc[unknown, key] = texts
    return stats


def compare(stats: pd.DataFrame, table: pd.DataFrame, dataset: str, bootstrap: int, seed: int,
            space: str = "nb201", suite: pd.DataFrame | None = None) -> dict:
    """Our statistics' correlations with ``dataset``'s accuracy over the architectures of ``stats`` in ``table``,
    with the published numbers beside them; and, where ``suite`` (or ``table`` itself) carries
    NAS-Bench-Suite-Zero's own ``zc_*`` scores, theirs over the same architectures (``suite_scores_same_archs``)."""
    key = space_of(space).id_column
    joined = in_written_form(stats, table, space).merge(table, on=key, how="inner")
    accuracy_column = accuracy_column_of(table, dataset)
    accuracy = joined[accuracy_column].to_numpy(dtype=np.float64)
    rng = np.random.default_rng(seed)
    rows = {}
    for name, column in oriented_columns(joined).items():
        values, failed = ranked_last(column.to_numpy(dtype=np.float64))
        row = {"n": int(len(values)), "failed": int(failed.sum()), **correlations(values, accuracy, bootstrap, rng)}
        rows[name] = with_references(row, name, dataset, space)
    result = {"n_archs": int(len(joined)), "statistics": rows}
    if suite is None and any(isinstance(c, str) and c.startswith("zc_") for c in table.columns):
        suite = table[[key, *[c for c in table.columns if isinstance(c, str) and c.startswith("zc_")]]]
    if suite is not None:  # after ours, so that our draws are those of a table without them
        result["suite_scores_same_archs"] = suite_correlations(joined[[key, accuracy_column]], suite, key,
                                                               accuracy_column, bootstrap, rng)
    return result


def suite_correlations(joined: pd.DataFrame, suite: pd.DataFrame, key: str, accuracy_column: str, bootstrap: int,
                       rng: np.random.Generator) -> dict:
    """Each of NAS-Bench-Suite-Zero's own scores (``zc_*``), under our statistic's name and oriented as it, with
    the accuracy over the joined architectures (those our statistics are measured on), bootstrapped as ours."""
    both = joined.merge(suite, on=key, how="inner")
    accuracy = both[accuracy_column].to_numpy(dtype=np.float64)
    scores = {}
    for column in (c for c in suite.columns if isinstance(c, str) and c.startswith("zc_")):
        name = SUITE_NAMES.get(column[3:], column[3:])
        sign = -1.0 if name in STATISTICS and not STATISTICS[name].higher_is_better else 1.0
        values, failed = ranked_last(sign * both[column].to_numpy(dtype=np.float64))
        scores[name] = {"column": column, "n": int(len(values)), "failed": int(failed.sum()),
                        **correlations(values, accuracy, bootstrap, rng)}
    return {"source": SUITE_SCORES_SOURCE, "n_archs": int(len(both)), "scores": scores}


def against(row: dict, value: float, reference: tuple[str, str, str, str]) -> dict:
    """A published value beside ours on its measure (|ρ| takes the absolute value), and whether within 0.03."""
    source, measure, accuracy_kind, archs = reference
    ours = row[measure.strip("|")]["value"]
    ours = abs(ours) if measure.startswith("|") else ours
    return {"value": value, "measure": measure, "accuracy": accuracy_kind, "archs": archs, "source": source,
            "ours": round(ours, 4), "difference": round(ours - value, 4), "within": bool(abs(ours - value) <= TOLERANCE)}


def with_references(row: dict, name: str, dataset: str, space: str) -> dict:
    """``row`` (its correlations) with the primary published value and the others set beside it."""
    row = {k: v for k, v in row.items() if k not in ("published", "ours_on_that_measure", "difference", "within",
                                                       "others")}
    published = PUBLISHED[space].get(name, {}).get(dataset)
    if published is not None:
        primary = against(row, *published)
        row["ours_on_that_measure"], row["difference"], row["within"] = (
            primary.pop("ours"), primary.pop("difference"), primary.pop("within"))
        row["published"] = primary
    others = OTHERS[space].get(name, {}).get(dataset, [])
    if others:
        row["others"] = [against(row, value, reference) for value, reference in others]
    return row


ACCURACY_WORDS = {"darts": "CIFAR-10 validation accuracy (NAS-Bench-Suite-Zero's NAS-Bench-301 record)"}
"""The accuracy a space's table holds, where it is not the test accuracy."""


def suite_published(name: str, row: dict | None, space: str, dataset: str) -> dict | None:
    """NAS-Bench-Suite-Zero's published Spearman ρ for a statistic: the one set beside our row (primary or other),
    or, for a statistic we did not score, the one the current tables hold; None when there is none."""
    if row is not None:
        refs = ([row["published"]] if "published" in row else []) + row.get("others", [])
    else:
        published = PUBLISHED.get(space, {}).get(name, {}).get(dataset)
        refs = [{"value": value, "measure": ref[1], "source": ref[0]}
                for value, ref in ([published] if published else []) + OTHERS.get(space, {}).get(name, {}).get(dataset, [])]
    return next((ref for ref in refs if ref["measure"] == "spearman" and "NAS-Bench-Suite-Zero" in ref["source"]),
                None)


def suite_markdown(suite: dict, rows: dict, published: dict[str, dict | None], cite: dict[str, int]) -> list[str]:
    """The suite's own scores on the same architectures, beside ours and the suite's published ρ."""
    lines = ["", f"NAS-Bench-Suite-Zero's own scores on the same {suite['n_archs']} architectures (the table's `zc_*` "
             "columns, oriented as ours, the same bootstrap): what its implementation gives on exactly the "
             "architectures we score, beside ours and its published ρ (measured over other architectures).", "",
             "| statistic | suite's column | n (failed: ranked last) | suite's own score on the same archs: Kendall τ "
             "[95 %] | Spearman ρ [95 %] | ours: τ / ρ | suite's published ρ [source] |", "|---|---|---|---|---|---|---|"]
    for name, score in suite["scores"].items():
        k, s, row, pub = score["kendall"], score["spearman"], rows.get(name), published[name]
        lines.append(
            f"| {name} | {score['column']} | {score['n']} ({score['failed']}) | {k['value']:.3f} [{k['ci95'][0]:.3f}, "
            f"{k['ci95'][1]:.3f}] | {s['value']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}] | "
            + (f"{row['kendall']['value']:.3f} / {row['spearman']['value']:.3f}" if row else "– (not scored)") + " | "
            + (f"{pub['value']:.2f} [{cite[pub['source']]}]" if pub else "–") + " |")
    return lines


def markdown(result: dict) -> str:
    rows = result["statistics"]
    suite_refs = {name: suite_published(name, rows.get(name), result["space"], result["dataset"])
                  for name in result.get("suite_scores_same_archs", {}).get("scores", {})}
    sources = sorted({ref["source"] for row in rows.values()
                      for ref in ([row["published"]] if "published" in row else []) + row.get("others", [])}
                     | {ref["source"] for ref in suite_refs.values() if ref})
    cite = {source: i + 1 for i, source in enumerate(sources)}
    lines = [f"# Zero-cost statistics on {result['space'].upper()} {result['dataset']}: ours beside the published", "",
             f"`{result['command']}`", "", f"{result['provenance']['date']}, commit {result['provenance']['git_commit']}, "
             f"{result['provenance']['machine']['platform']}; {result['n_archs']} architectures (one seeded sample), "
             f"{ACCURACY_WORDS.get(result['space'], 'test accuracy')}; batches: {'; '.join(result['batch']) or 'none recorded'}", ""]
    if "references_set" in result:
        lines += [f"References set beside these correlations by `{result['references_set']['command']}` on "
                  f"{result['references_set']['date']} (the correlations are the run's above).", ""]
    lines += ["| statistic | n (failed: ranked last) | Kendall τ [95 %] | Spearman ρ [95 %] | published [source] "
              "| measure, accuracy, archs | ours on it | diff | within 0.03 | others: published [source] measure → ours "
              "(diff, within) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        pub = row.get("published")
        k, s = row["kendall"], row["spearman"]
        others = "; ".join(f"{o['value']:.2f} [{cite[o['source']]}] {o['measure']} → {o['ours']:.3f} "
                           f"({o['difference']:+.3f}, {'yes' if o['within'] else 'no'})" for o in row.get("others", []))
        lines.append(
            f"| {name} | {row['n']} ({row['failed']}) | {k['value']:.3f} [{k['ci95'][0]:.3f}, {k['ci95'][1]:.3f}] | "
            f"{s['value']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}] | "
            + (f"{pub['value']:.3f} [{cite[pub['source']]}] | {pub['measure']}, {pub['accuracy']}, {pub['archs']} | "
               f"{row['ours_on_that_measure']:.3f} | {row['difference']:+.3f} | {'yes' if row['within'] else 'no'} | "
               if pub else "– | – | – | – | – | ") + (others or "–") + " |")
    if "suite_scores_same_archs" in result:
        lines += suite_markdown(result["suite_scores_same_archs"], rows, suite_refs, cite)
    lines += ["", "Sources:", ""]
    lines += [f"{cite[source]}. {source}" for source in sources]
    return "\n".join(lines) + "\n"


def write(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


def rejudge(path: Path) -> dict:
    """An earlier result with the current reference tables set beside its correlations (recomputing none)."""
    result = json.loads(path.read_text())
    result.setdefault("space", "nb201")  # results written before NB101 was added are NB201's
    result["statistics"] = {name: with_references(row, name, result["dataset"], result["space"])
                            for name, row in result["statistics"].items()}
    result["references_set"] = {"command": f"python benchmarks/zero_cost_faithfulness.py --rejudge {path}",
                                "date": provenance()["date"]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stats", action="append", help="a stats dataset, repeatable (joined)")
    parser.add_argument("--benchmark")
    parser.add_argument("--rejudge", type=Path, metavar="OUT.json",
                        help="rewrite an earlier result (JSON and Markdown) with the current published tables")
    parser.add_argument("--space", default="nb201", choices=tuple(PUBLISHED))
    parser.add_argument("--dataset", default="cifar10", choices=("cifar10", "cifar100"))
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="path without suffix: writes OUT.json and OUT.md")
    args = parser.parse_args()
    if args.rejudge is not None:
        if not args.rejudge.is_file():
            parser.error(f"--rejudge {args.rejudge}: no such result")
        write(rejudge(args.rejudge), args.rejudge.with_suffix(""))
        return
    if not (args.stats and args.benchmark and args.out):
        parser.error("--stats, --benchmark and --out are required (or --rejudge OUT.json)")
    space = space_of(args.space)
    stats = read_stats(args.stats, space.id_column)
    table = load_benchmark(args.benchmark, space)  # checked before its zc_* scores are read
    suite = suite_scores(args.benchmark, space)  # None for a table without the suite's zc_* scores
    result = {
        "command": "python benchmarks/zero_cost_faithfulness.py " + stats_arguments(args.stats) + f" --space {args.space} --dataset {args.dataset} --benchmark {args.benchmark} --out {args.out}",
        "provenance": provenance(), "space": args.space, "dataset": args.dataset, "tolerance": TOLERANCE,
        "batch": sorted({how for path in args.stats for how in batches_of(Path(path))}),
        **compare(stats, table, args.dataset, args.bootstrap, args.seed, args.space, suite),
    }
    write(result, Path(args.out))


if __name__ == "__main__":
    main()
