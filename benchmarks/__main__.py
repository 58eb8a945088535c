"""`python -m benchmarks [--quick]`: runs every benchmark, prints its table, writes results.json."""

import argparse

from benchmarks import cohorts, definitions, detection, disclosure, erasure, pipeline, pseudonymise
from benchmarks.common import RESULTS, write_results

BENCHMARKS = {"pseudonymise": pseudonymise.run, "cohorts": cohorts.run, "detection": detection.run, "disclosure": disclosure.run, "definitions": definitions.run, "erasure": erasure.run, "pipeline": pipeline.run}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds), as CI runs them")
    args = parser.parse_args()
    for name, run in BENCHMARKS.items():
        write_results(name, run(args.quick))
    print(f"figures written to {RESULTS}")


if __name__ == "__main__":
    main()
