"""Ray orchestration: the only place where Ray is used.

``graphs_stage`` (Ray Data over shards), ``stats_stage`` (a pool of Ray actors,
one per GPU or CPU), ``cluster_stage`` and ``select_stage`` (the driver), wired
together by ``run``.
"""
