"""Wall time of the Raft election-convergence reproduction (Raft paper Figure 16).

Runs the whole Figure-16 reproduction (ten timeout ranges, 1000 trials each, 100 for 150-150 ms,
on a process pool with one worker per CPU) and the registered experiment's quick mode
(in-process), and prints a table and then one JSON object on the last line. Targets: full
reproduction < 60 s on 2 cores, quick mode < 5 s. ``--quick`` skips the full run.

Usage: ``python benchmarks/bench_election.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import os
import time

from consensuslab.experiments.election import downtime_summary, election_downtime, paper_measurements, raft_election


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only time quick mode")
    args = parser.parse_args()
    out: dict[str, float | int | str] = {"cpus": os.cpu_count() or 1}

    t0 = time.perf_counter()
    quick = raft_election(quick=True, seed=0, executor="inline")
    out["quick_mode_s"] = time.perf_counter() - t0
    out["quick_target_s"] = 5.0

    if not args.quick:
        t0 = time.perf_counter()
        df = election_downtime(seed=0)
        out["figure16_s"] = time.perf_counter() - t0
        out["figure16_target_s"] = 60.0
        out["figure16_trials"] = len(df)
        out["figure16_events"] = int(df["events"].sum())
        out["events_per_s"] = out["figure16_events"] / out["figure16_s"]
        out.update({k: round(v, 3) for k, v in paper_measurements(downtime_summary(df)).items()})

    print(f"{'what':<28}{'value':>14}")
    for k, v in out.items():
        print(f"{k:<28}{v:>14.3f}" if isinstance(v, float) else f"{k:<28}{v!s:>14}")
    del quick
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}))


if __name__ == "__main__":
    main()
