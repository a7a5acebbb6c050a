"""Scale-out: per-document work on a local two-worker Dask cluster gives the local outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.flows.helpers import snapshot

pytestmark = pytest.mark.slow

pytest.importorskip("pipeline.ingest", reason="the ingest stage has not landed")


def test_dask_runner_matches_local_runner(prefect_api: str, tiny_corpus: Path,
                                          tmp_path: Path) -> None:
    from distributed import LocalCluster

    from flows.run import run_flow

    local = tmp_path / "local"
    run_flow(str(tiny_corpus), str(local), runner="local")

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        dask_out = tmp_path / "dask"
        summary = run_flow(str(tiny_corpus), str(dask_out), runner="dask",
                           dask_address=cluster.scheduler_address)
        n_workers = len(cluster.workers)
        on_cluster = set(cluster.scheduler.task_prefixes)
    assert n_workers == 2
    assert {"ingest_document_task", "analyse_document_task"} <= on_cluster
    assert (summary["ingested"], summary["failed"]) == (3, 1)
    assert snapshot(dask_out)["tables"] == snapshot(local)["tables"]
