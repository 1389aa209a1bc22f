"""`make bench`: run every benchmark in turn (each prints its table and writes JSON).

python -m bench                  # all of them
python -m bench sql_hot_paths    # some of them, by module name
python -m bench --quick          # pass --quick to those that have it
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = [
    "sql_hot_paths",
    "sql_binding",
    "functions_http",
    "realtime_fanout",
    "realtime_cost",
    "sync_accuracy",
    "comment_replay",
    "episode_night",
    "browser_sync",
]


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("-")] or BENCHMARKS
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    failed = []
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        module = importlib.import_module(f"bench.{name}")
        if module.main(["--quick"] if quick else []) != 0:
            failed.append(name)
    if failed:
        print(f"\nbenchmarks that missed a target or failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
