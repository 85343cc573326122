"""Distribution on a real Dask cluster gives the same records as the local pool."""

from __future__ import annotations

from pathlib import Path

import assaykit
import pytest
from assaykit import HostConfig, PluginHost
from assaykit.records import VOLATILE_FIELDS
from helpers.toydata import make_folder

distributed = pytest.importorskip("distributed")


def _stable(records: list[assaykit.Record]) -> list[dict[str, object]]:
    out = []
    for r in records:
        d = r.as_dict()
        for k in VOLATILE_FIELDS:
            d.pop(k)
        out.append(d)
    return out


def test_local_cluster_matches_local_pool(toy_env: Path, tmp_path: Path) -> None:
    toy = make_folder(tmp_path / "in", 8, seed=11, corrupt=(3,))
    host = PluginHost(HostConfig(autoload=False, load=("toycount",)))
    local = assaykit.run(
        tmp_path / "in", tmp_path / "local", assay="toy_threshold", workers=2, host=host
    )
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        dask = assaykit.run(
            tmp_path / "in",
            tmp_path / "dask",
            assay="toy_threshold",
            scheduler=cluster.scheduler_address,
            host=host,
        )
    assert local.exit_code == dask.exit_code == 1
    assert _stable(local.records) == _stable(dask.records)
    assert [e.status for e in dask.experiments].count("failed") == 1
    values = {
        (r.experiment, r.sample_id): r.value_num for r in dask.records if r.metric == "positive_pct"
    }
    for key, truth in toy.truth.items():
        if key[0] not in toy.corrupt:
            assert values[key] == pytest.approx(truth, abs=1e-9)


def test_unreachable_scheduler_is_a_usage_error(toy_host: PluginHost, tmp_path: Path) -> None:
    make_folder(tmp_path / "in", 1)
    with pytest.raises(assaykit.UsageError, match="cannot reach Dask scheduler"):
        assaykit.run(
            tmp_path / "in",
            tmp_path / "out",
            assay="toy_threshold",
            scheduler="tcp://127.0.0.1:9",
            host=toy_host,
        )
