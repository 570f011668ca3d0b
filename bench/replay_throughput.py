"""Replay throughput of the incident engine on a multi-day simulated district, on one core.

Prints observations per second for the way `gridwatch replay` runs (chunks of 4096, grids looked up
in bulk, incidents computed once at the end) beside a one-at-a-time baseline measured in the same run
(each observation its own batch: a grid lookup and the changed incidents computed every time, as a
naive live loop would).

    taskset -c 0 .venv/bin/python -m bench.replay_throughput --days 3

Target (issue 3): >= 20,000 observations per second on one core. The first line says whether the
engine ran as pure Python or compiled (setup.py's optional mypyc build). On a shared machine the
rate per second of CPU time is the steadier figure: last measured (load average 4.9-6.2 on 2 cores)
at 31,524-35,060/s of CPU time compiled and 10,987-17,499/s pure, three runs each (README, Speed).
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.scenario import generate
from ingest.engine import COMPILABLE, IncidentEngine
from ingest.engine.compiled import describe as describe_engine
from ingest.replay import ReplaySummary, replay

TARGET = 20_000


def timed(run) -> tuple[float, float, int]:  # noqa: ANN001
    """Wall-clock and CPU seconds of ``run`` (on a shared machine the CPU time is the steadier
    figure), and how many incidents it gave."""
    start, cpu = time.perf_counter(), time.process_time()
    incidents = run()
    return time.perf_counter() - start, time.process_time() - cpu, len(incidents)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--events-per-day", type=int, default=300)
    args = parser.parse_args()
    scenario = generate(args.seed, args.days, events_per_day=args.events_per_day)
    grids = scenario.grid_index()
    observations = scenario.observations
    n = len(observations)

    def chunked() -> list:
        return replay(observations, IncidentEngine(grids), ReplaySummary())

    def one_at_a_time() -> list:
        engine = IncidentEngine(grids)
        for observation in observations:
            engine.process(observation)
        return engine.finish()

    fast_s, fast_cpu, fast_incidents = timed(chunked)
    slow_s, slow_cpu, slow_incidents = timed(one_at_a_time)
    assert fast_incidents == slow_incidents, "both ways must give the same incidents"
    rate = n / fast_s
    print(f"{n} observations over {args.days} days, {fast_incidents} incidents; engine {describe_engine(COMPILABLE)}")
    print(f"  replay (chunked)        {rate:10,.0f} observations/s   ({n / fast_cpu:,.0f}/s of CPU time)")
    print(f"  baseline (one by one)   {n / slow_s:10,.0f} observations/s   ({n / slow_cpu:,.0f}/s of CPU time)")
    print(f"  ratio {slow_s / fast_s:.2f}x; target {TARGET:,}/s: {'met' if rate >= TARGET else f'MISSED ({rate / TARGET:.0%} of it)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
