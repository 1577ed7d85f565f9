"""Ray orchestration: the only place where Ray is used.

``graphs_stage`` (Ray Data over shards), ``stats_stage`` (the run loop over a pool of
``stats_actor`` actors, one per GPU or CPU; ``precomputed`` statistics instead), ``halving_stage``
(the same actors round by round), ``cluster_stage`` (on the driver, or ``kmeans_stage`` over
``shard_holders``) and ``select_stage``, wired together by ``run``, the one driver.
"""
