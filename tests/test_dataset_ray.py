"""The dataset engine on Ray: a local Ray with 2 CPUs and a simulated
two-node cluster (ray.cluster_utils.Cluster) write the same dataset as one
plain process. Ray is started and shut down by each test."""
from __future__ import annotations

import numpy as np
import pytest

from test_dataset_engine import _files, _recipe, _shard_arrays

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.gl, pytest.mark.slow]


def _same(a_dir, b_dir):
    a, b = _shard_arrays(a_dir), _shard_arrays(b_dir)
    assert a.keys() == b.keys() and len(a) > 10
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert _files(a_dir) == _files(b_dir)


@pytest.fixture(scope="module")
def plain(tmp_path_factory, hr):
    from posebooth.dataset.run import run_recipe

    out = tmp_path_factory.mktemp("plain")
    assert run_recipe(_recipe(), out, progress=False, renderer=hr)["complete"]
    return out


def test_local_ray_writes_the_same_dataset(tmp_path, plain):
    from posebooth.dataset.run import run_recipe

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        manifest = run_recipe(_recipe(), tmp_path / "ray", use_ray=True, progress=False)
    finally:
        ray.shutdown()
    assert manifest["complete"]
    _same(plain, tmp_path / "ray")


def test_a_simulated_two_node_cluster_writes_the_same_dataset(tmp_path, plain):
    from ray.cluster_utils import Cluster

    from posebooth.dataset.run import run_recipe

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        manifest = run_recipe(_recipe(), tmp_path / "cluster", use_ray=True, ray_address=cluster.address,
                              progress=False)
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert manifest["complete"]
    _same(plain, tmp_path / "cluster")
