"""The Dask integration gives exactly the records of a single-process run."""
from __future__ import annotations

import shutil

import pytest

import ndrkb

from .conftest import CORPUS

distributed = pytest.importorskip("distributed")


def test_a_local_cluster_gives_the_records_of_the_single_process_run(tmp_path):
    from ndrkb.run.dask import classify_dask

    shutil.copytree(CORPUS, tmp_path / "corpus")
    (tmp_path / "box.mbox").write_bytes(b"".join(
        b"From MAILER-DAEMON Thu Nov 26 10:00:00 2026\n" + p.read_bytes() + b"\n"
        for p in sorted((CORPUS / "exo-sender-auth").glob("*.eml"))))
    (tmp_path / "empty.eml").write_bytes(b"")
    sources = [str(tmp_path / "corpus"), str(tmp_path / "box.mbox"), str(tmp_path / "empty.eml")]
    expected = [r.model_dump() for r in ndrkb.classify(sources)]
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            got = [r.model_dump() for r in classify_dask(sources, client, partition_size=7)]
            assert len(set(client.run(lambda: __import__("os").getpid()).values())) == 2
        by_address = [r.model_dump() for r in classify_dask(sources, cluster.scheduler_address, partition_size=7)]
    assert got == expected == by_address
    assert len(expected) > 40 and expected[-1]["error"] == "the input is empty"
