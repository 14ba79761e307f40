"""The Dask rows of ``bench_extraction.py`` alone, with every round and the CPU time shown.

``bench_extraction.py`` reports the best of its rounds only.  This script runs, in each of
``--reps`` rounds, the same three configurations back to back on the same 40 cases:

- ``proc``: radval's own 2 worker processes (``jobs=2``), the reference of both rows;
- ``client``: a Dask ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
  dashboard_address=None)`` started here with Dask's defaults and warmed up (the user's
  cluster of ``extract/dask_running_cluster_vs_processes``);
- ``local``: ``scheduler="local"`` (radval starts and stops its own cluster each run,
  ``extract/dask_local_vs_processes``).

It prints one JSON line per run: wall seconds, CPU seconds of this process (scheduler, client)
and of everything (this process, its Dask workers, the workers of radval's fork server: less
sensitive than the wall time to the load of a shared machine), load average.  At the end, per
Dask configuration: the ratio to ``proc`` of the same round (min, median, max), the
benchmark's ratio (best of the rounds over best of the rounds) and the median CPU ratio.  Run
it for two versions of radval with ``PYTHONPATH`` to compare them.  Not collected by
``run_all.py`` (not a ``bench_*.py`` file).

Usage: ``PYTHONPATH=src .venv/bin/python analysis/benchmarks/dask_rows.py [--reps N]
[--modes proc,client,local]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_extraction as be  # noqa: E402


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(reps: int = 5,
         modes: tuple[str, ...] = ("proc", "client", "local")) -> list[dict[str, Any]]:
    from distributed import Client, LocalCluster

    from radval.features.extract import extract_radiomics
    from radval.features.radiomics import quiet_radiomics

    quiet_radiomics()
    logging.getLogger("radval").setLevel(logging.WARNING)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="radval-dask-rows-") as tmp:
        root = Path(tmp)
        manifest = be._study(root / "study", be.N_CASES)
        extract_radiomics(manifest, out_dir=root / "warm", jobs=1, progress=False)
        counter = iter(range(100_000))

        def run(scheduler: Any) -> tuple[float, float, float]:
            a0, c0, t0 = be._cpu(), _self_cpu(), time.perf_counter()
            res = extract_radiomics(manifest, out_dir=root / f"out{next(counter)}", jobs=2,
                                    scheduler=scheduler, progress=False)
            dt = time.perf_counter() - t0
            if not res.ok or res.n_cached:
                raise RuntimeError("run failed or hit the cache")
            return dt, _self_cpu() - c0, be._cpu() - a0

        # As in the benchmark, radval's fork server starts before the user's cluster: Dask's
        # nanny writes MALLOC_TRIM_THRESHOLD_ into this process's environment when it starts
        # its workers, and a server started after would pass it on to radval's own workers
        run(None)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            run(client)  # warm the workers (imports), as the benchmark does
            for rnd in range(reps):
                for mode in modes:
                    sched = {"proc": None, "client": client, "local": "local"}[mode]
                    wall, cpu, cpu_all = run(sched)
                    row = {"round": rnd, "mode": mode, "wall_s": round(wall, 3),
                           "self_cpu_s": round(cpu, 3), "cpu_s": round(cpu_all, 3),
                           "load_avg_1min": round(os.getloadavg()[0], 2)}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    walls = {m: [r["wall_s"] for r in rows if r["mode"] == m] for m in modes}
    cpus = {m: [r["cpu_s"] for r in rows if r["mode"] == m] for m in modes}
    if "proc" in modes:
        for m in modes:
            if m == "proc":
                continue
            per_round = [d / p for d, p in zip(walls[m], walls["proc"], strict=True)]
            print(json.dumps({
                "mode": m, "ratio_same_round_min": round(min(per_round), 3),
                "ratio_same_round_median": round(statistics.median(per_round), 3),
                "ratio_same_round_max": round(max(per_round), 3),
                "ratio_best_over_best": round(min(walls[m]) / min(walls["proc"]), 3),
                "wall_s_min": min(walls[m]), "proc_wall_s_min": min(walls["proc"]),
                "cpu_ratio_median": round(statistics.median(
                    d / p for d, p in zip(cpus[m], cpus["proc"], strict=True)), 3),
                "cpu_s_median": statistics.median(cpus[m]),
                "proc_cpu_s_median": statistics.median(cpus["proc"])}))
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--modes", default="proc,client,local")
    args = ap.parse_args()
    main(args.reps, tuple(args.modes.split(",")))
