"""Cluster the architectures of a space as a config says: the points, the choice of K (and η), the labels.

Equivalent architectures share their features, and NB201's 15,625 architectures have only a
few hundred distinct operation-usage vectors, so every algorithm works on the distinct points
(k-means weights each by how many architectures it stands for) and the labels are fanned
back out. Cluster ids are renumbered by decreasing number of architectures.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import silhouette_score

from cbred_ray.cluster.criteria import subsample_stability
from cbred_ray.cluster.distances import pairwise
from cbred_ray.cluster.edit_distance import EditCosts, pairwise_edit_distance
from cbred_ray.cluster.kmeans import kmeans
from cbred_ray.cluster.spectral import relabel_by_size, select_best_parameter, spectral
from cbred_ray.errors import BadInput

MAX_SPECTRAL_POINTS = 12_000
"""Spectral clustering holds a dense distance matrix of the distinct points: at most this many."""
SILHOUETTE_SAMPLE = 4_000
BLOCK = 1024
"""Rows of the distance matrix computed per block (a block is one Ray task on a cluster)."""

BlockMap = Callable[[Callable[[np.ndarray], np.ndarray], np.ndarray, int], np.ndarray]
"""``map(fn, rows, block)``: ``fn`` applied to consecutive blocks of ``rows``, results stacked."""


def serial_blocks(fn: Callable[[np.ndarray], np.ndarray], rows: np.ndarray, block: int) -> np.ndarray:
    return np.vstack([fn(rows[start : start + block]) for start in range(0, len(rows), block)])


@dataclass(frozen=True)
class Clustering:
    """How to cluster, as plain data (the config's ``cluster`` section becomes one in the pipeline):
    the algorithm, its grid of K (and η) and the criterion that searches it, the distance of spectral
    clustering and the edit distance's costs (overrides of :class:`EditCosts`)."""

    method: str = "kmeans"
    ks: tuple[int, ...] = (16,)
    etas: tuple[float, ...] = (0.1,)
    criterion: str = "silhouette"
    distance: str = "hellinger"
    n_init: int = 10
    edit_costs: dict = field(default_factory=dict)

    @classmethod
    def of(cls, section) -> Clustering:
        """The clustering a config's ``cluster`` section describes."""
        return cls(section.method, section.ks, section.etas, section.criterion, section.distance, section.n_init,
                   section.edit_costs.model_dump(exclude_none=True))


@dataclass(frozen=True)
class SpaceClustering:
    labels: np.ndarray  # cluster of each architecture (row of the input)
    k: int
    eta: float | None  # the spectral bandwidth, None for k-means
    points: int  # distinct points the algorithm clustered
    criterion: str | None = None  # how K (and η) were chosen; None when the config fixed them
    search: list[dict] = field(default_factory=list)  # every candidate: k, eta, value of the criterion
    centers: np.ndarray | None = None  # k-means: the centers that assign the labels (None for spectral)

    def record(self) -> dict:
        """What the manifest keeps of the choice (``k_edge``: see :func:`grid_edge`) and, for k-means, the
        centers (a region's rule for architectures the run did not cluster)."""
        return {"k": self.k, "eta": self.eta, "points": self.points, "criterion": self.criterion,
                "search": self.search, "k_edge": grid_edge(self.k, [row["k"] for row in self.search]),
                "sizes": np.bincount(self.labels, minlength=self.k).tolist(),
                **({} if self.centers is None else {"centers": self.centers.tolist()})}


def grid_edge(k: int, grid: list[int]) -> str | None:
    """"largest" or "smallest" when a criterion searching several values of K chose an end of the grid: the
    criterion may have preferred a value beyond it, which the grid did not offer. None otherwise."""
    values = sorted(set(grid))
    if len(values) < 2:
        return None
    return "largest" if k == values[-1] else "smallest" if k == values[0] else None


def distinct_points(features: np.ndarray, cells: np.ndarray, cfg: Clustering) -> int:
    """How many distinct points the clustering of these architectures works on (cells for the edit
    distance, feature rows otherwise)."""
    return len(np.unique(cells if cfg.method == "spectral" and cfg.distance == "edit" else features, axis=0))


def check_points(distinct: int, cfg: Clustering, whole: bool = True) -> None:
    """Refuse a clustering that ``distinct`` distinct points cannot give: a K above their number, or
    (``whole``: the driver holds every point) more points than spectral clustering holds."""
    if cfg.method == "spectral" and whole and distinct > MAX_SPECTRAL_POINTS:
        raise BadInput(f"spectral clustering of {distinct} distinct points exceeds {MAX_SPECTRAL_POINTS}: "
                       "use cluster.method kmeans (or cluster.engine distributed)")
    too_many = [k for k in cfg.ks if k > distinct]
    if too_many:
        kind = "feature vectors" if cfg.method == "kmeans" else "points"
        raise BadInput(f"cluster.k = {too_many[0]} exceeds the {distinct} distinct {kind} of the space")


def cluster_space(features: np.ndarray, cells: np.ndarray, cfg: Clustering, seed: int,
                  blocks: BlockMap = serial_blocks) -> SpaceClustering:
    """Cluster ``n`` architectures: ``features`` (n, d) their graph features,
    ``cells`` (n, edges) their canonical cells (read by the edit distance). ``blocks`` computes
    the rows of a distance matrix block by block (the pipeline passes one that runs Ray tasks)."""
    features = np.asarray(features, dtype=np.float64)
    if len(features) != len(cells):
        raise BadInput(f"{len(features)} feature rows for {len(cells)} cells")
    if cfg.method == "kmeans":
        return _kmeans(features, cfg, seed)
    return _spectral(features, np.asarray(cells), cfg, seed, blocks)


def _kmeans(features: np.ndarray, cfg: Clustering, seed: int) -> SpaceClustering:
    distinct = len(np.unique(features, axis=0))
    check_points(distinct, cfg)
    search, criterion = [], None
    k = cfg.ks[0]
    if len(cfg.ks) > 1:
        criterion = cfg.criterion
        for candidate in cfg.ks:
            search.append({"k": candidate, "eta": None, "value": _kmeans_criterion(features, candidate, cfg, seed)})
        k = max(search, key=lambda row: (row["value"], -row["k"]))["k"]
    fitted = kmeans(features, k, seed, n_init=cfg.n_init)
    return SpaceClustering(fitted.labels, k, None, distinct, criterion, search, fitted.centers)


def _kmeans_criterion(features: np.ndarray, k: int, cfg: Clustering, seed: int) -> float:
    if cfg.criterion == "silhouette":
        labels = kmeans(features, k, seed, n_init=cfg.n_init).labels
        return distinct_silhouette(features, labels, seed)
    return subsample_stability(lambda idx, s: kmeans(features[idx], k, s, n_init=cfg.n_init).labels,
                               len(features), k, seed)


def distinct_silhouette(features: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """The mean silhouette of a clustering over the distinct feature vectors, each counted once (a seeded
    sample of :data:`SILHOUETTE_SAMPLE` of them where there are more), as spectral clustering's is.

    Over the rows, the architectures that share a vector (equivalent ones, and the many that only share their
    operation usage) sit at distance 0 from one another: as K nears the number of distinct vectors, clusters
    become groups of identical rows and the silhouette tends to 1, so the largest K of any grid wins (on NB201's
    operation usage, 258 distinct vectors: 0.45 at K = 32, 0.84 at 128, 0.99 at 256). Over the distinct
    vectors it measures how well the clustering separates different graphs, and can prefer a K in the middle.
    """
    distinct, first = np.unique(features, axis=0, return_index=True)
    labels = np.asarray(labels)[first]
    if len(np.unique(labels)) < 2:
        return -1.0
    sample = min(len(distinct), SILHOUETTE_SAMPLE)
    return float(silhouette_score(distinct, labels, sample_size=sample, random_state=seed))


def _probabilistic(points: np.ndarray, metric: str, blocks: BlockMap) -> np.ndarray:
    """Pairwise distances between operation-usage distributions. A graph without kernels has no
    distribution (an all-zero row): it is put as far from every distribution as any two
    distributions are apart, and at 0 from another such graph."""
    empty = points.sum(axis=1) == 0
    distances = np.zeros((len(points), len(points)))
    if (~empty).any():
        valid = points[~empty]
        part = blocks(lambda rows: pairwise(rows, valid, metric=metric), valid, BLOCK)
        np.fill_diagonal(part, 0.0)
        distances[np.ix_(~empty, ~empty)] = part
    farthest = distances.max() if (~empty).sum() > 1 else 1.0
    distances[np.ix_(empty, ~empty)] = farthest
    distances[np.ix_(~empty, empty)] = farthest
    return distances


def _spectral(features: np.ndarray, cells: np.ndarray, cfg: Clustering, seed: int,
              blocks: BlockMap) -> SpaceClustering:
    points = cells if cfg.distance == "edit" else features
    distinct, inverse = np.unique(points, axis=0, return_inverse=True)
    check_points(len(distinct), cfg)
    if cfg.distance == "edit":
        costs = EditCosts.from_config(dict(cfg.edit_costs))
        distances = blocks(lambda rows: pairwise_edit_distance(rows, distinct, costs=costs), distinct, BLOCK)
    else:
        distances = _probabilistic(distinct, cfg.distance, blocks)
    k, eta, criterion, search = cfg.ks[0], cfg.etas[0], None, []
    if len(cfg.ks) > 1 or len(cfg.etas) > 1:
        chosen = select_best_parameter(distances, cfg.ks, cfg.etas, cfg.criterion, seed)
        k, eta, criterion, search = chosen.k, chosen.eta, chosen.criterion, chosen.table
    labels = spectral(distances, k, eta, seed).labels[inverse.ravel()]
    return SpaceClustering(relabel_by_size(labels), k, eta, len(distinct), criterion, search)
