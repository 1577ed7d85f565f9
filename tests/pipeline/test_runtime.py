import pytest

from cbred_ray.config import ResourcesConfig
from cbred_ray.pipeline.runtime import plan_actors


@pytest.mark.parametrize("cfg, resources, expected", [
    (ResourcesConfig(), {"CPU": 2.0}, (2, 0.0, 1.0)),
    (ResourcesConfig(), {"CPU": 16.0, "GPU": 4.0}, (4, 1.0, 1.0)),
    (ResourcesConfig(num_gpus_per_actor=0.25), {"CPU": 16.0, "GPU": 2.0}, (8, 0.25, 1.0)),
    (ResourcesConfig(num_gpus_per_actor=0), {"CPU": 8.0, "GPU": 2.0}, (8, 0.0, 1.0)),
    (ResourcesConfig(num_actors=3), {"CPU": 8.0, "GPU": 2.0}, (3, 1.0, 1.0)),
    (ResourcesConfig(torch_threads=2), {"CPU": 8.0}, (4, 0.0, 2.0)),
])
def test_one_actor_per_gpu_when_there_are_gpus_else_per_cpu(cfg, resources, expected):
    plan = plan_actors(cfg, resources)
    assert (plan.num_actors, plan.num_gpus, plan.num_cpus) == expected
