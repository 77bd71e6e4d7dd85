"""The bptt-versus-PyTorch benchmark suite: ``bptt bench`` with the results kept in the repo.

    python benchmarks/run.py                                  # the six default sizes, all cells
    python benchmarks/run.py --config 32,100,64,128 --cell lstm --repeats 5

Every option of ``bptt bench --help`` applies; the JSON goes to benchmarks/results.json.
"""

import sys

from bptt.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if not any(a.startswith("--json") for a in args):
        args += ["--json", "benchmarks/results.json"]
    sys.exit(main(["bench", *args]))
