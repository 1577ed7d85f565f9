"""The caveats a run states in its last line and in `cbred evaluate`."""
from cbred_ray.select.caveats import caveats, kept_cluster


def _manifest(near_ties=(), k_edge=None):
    return {"stages": {
        "selection": {"cluster": 4, "score": 0.871, "interval": [0.836, 0.901], "near_ties": list(near_ties)},
        "clusters": {"k": 32, "criterion": "silhouette", "k_edge": k_edge,
                     "search": [{"k": k, "eta": None, "value": 0.1} for k in (4, 8, 16, 32)]}}}


def test_a_clear_choice_has_no_caveat():
    assert caveats(_manifest()) == []
    assert kept_cluster(_manifest()["stages"]["selection"]) == "cluster 4 (score 0.871 [0.836, 0.901])"


def test_near_ties_and_a_k_at_the_grids_edge_are_named():
    tie = {"cluster": 3, "size": 1291, "score": 0.868, "interval": [0.813, 0.893]}
    notes = caveats(_manifest([tie], "largest"))
    assert len(notes) == 2
    assert "cluster 4" in notes[0] and "3 (0.868 [0.813, 0.893], 1,291 archs)" in notes[0]
    assert "K = 32" in notes[1] and "largest" in notes[1] and "[4, 8, 16, 32]" in notes[1] and "silhouette" in notes[1]


def test_a_union_is_named_by_its_clusters_and_a_tie_at_its_boundary_by_the_last():
    selection = {"cluster": 4, "clusters": [4, 9, 2], "score": 0.871, "interval": [0.836, 0.901],
                 "near_ties": [{"cluster": 7, "size": 120, "score": 0.70, "interval": [0.6, 0.8]}]}
    assert kept_cluster(selection) == "clusters 4, 9, 2 (best: 4, score 0.871 [0.836, 0.901])"
    (note,) = caveats({"stages": {"selection": selection}})
    assert "cluster 2, the last of the union," in note and "7 (0.700 [0.600, 0.800], 120 archs)" in note
