"""Inference time of the exported ONNX model under ONNX Runtime, against bptt and torch.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/onnx_infer.py --repeats 5
    python benchmarks/onnx_infer.py --cell lstm --config 32,100,64,128 --repeats 3

At each size of ``bptt bench`` (bptt.bench.sizes.DEFAULT_SIZES) and for each cell, one model
(one layer, a linear readout at every step to O = D outputs, float32) is timed three ways, in
alternated rounds in one process, 2 threads each:

  onnx   the file ``bptt.export.to_onnx`` writes, run by ONNX Runtime's CPU provider
         (intra_op_num_threads=2, inter_op_num_threads=1, no spinning between calls unless
         --spin: spinning threads hold the cores the other programs need), outputs and h_n
  bptt   ``bptt bench``'s inference program: engine.infer (no tape) and the readout
  torch  ``bptt bench``'s torch program: torch.nn.RNN/LSTM/GRU and a Linear readout under
         inference_mode (its own random weights: only the time is compared)

Each time is the median over rounds of a run's median call; each ratio the median of the
per-round ratios. Before timing, ONNX Runtime's outputs are compared with bptt's on the same
weights (the largest difference is printed). Rows go to stdout as a Markdown table and, with
``--json``, to a file.
"""

import argparse
import json
import platform
import statistics

import numpy as np
import onnxruntime

from bptt.bench.environment import blas_info, cpu_name, load_average, thread_limits
from bptt.bench.programs import bench_data, bench_model, model_programs, torch_programs
from bptt.bench.sizes import CELLS, DEFAULT_SIZES, parse_config
from bptt.bench.timing import CLOCKS, time_alternately
from bptt.export import to_onnx

THREADS = 2


def onnx_program(cell, config, output_size, seed=0, spin=False):
    """ONNX Runtime over the export of the model ``model_programs`` builds with ``seed``."""
    model = bench_model(cell, config, output_size)
    params = model.init(np.random.default_rng(seed), dtype=np.float32)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # not the warning that h_0 is not constant-folded
    # Spinning threads would hold both cores between calls and slow the other programs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    sess = onnxruntime.InferenceSession(
        to_onnx(model, params).SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    xs, _ = bench_data(config, output_size, seed + 1)
    reference, _, _ = model.forward(params, xs)
    error = float(np.abs(sess.run(["outputs"], {"inputs": xs})[0] - reference).max())

    def infer():
        outputs = sess.run(None, {"inputs": xs})[0]  # (T, B, O), then h_n (and c_n)
        return float(outputs[-1, 0, 0])

    return model, infer, error


def measure(cell, config, repeats, spin):
    output_size = config.D
    model, onnx_infer, error = onnx_program(cell, config, output_size, spin=spin)
    programs = {
        "onnx": onnx_infer,
        "bptt": model_programs(model, config)["infer"],
        "torch": torch_programs(cell, config, output_size)["infer"],
    }
    runs = time_alternately(programs, repeats, 2, 3, 0.3, CLOCKS["wall"])
    seconds = {k: [s for s, _ in r] for k, r in runs.items()}
    row = {"cell": cell, **config._asdict(), "max_abs_diff": error}
    for k, times in seconds.items():
        row[f"{k}_ms"] = 1e3 * statistics.median(times)
    for other in ("bptt", "torch"):
        ratios = [a / b for a, b in zip(seconds["onnx"], seconds[other], strict=True)]
        row[f"onnx/{other}"] = statistics.median(ratios)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cell", choices=CELLS, action="append", help="(default: all)")
    parser.add_argument("--config", type=parse_config, action="append", help="B,T,D,H")
    parser.add_argument("--repeats", type=int, default=5, help="alternated rounds (5)")
    parser.add_argument("--json", help="write the rows and the environment to this file")
    parser.add_argument(
        "--spin",
        action="store_true",
        help="let ONNX Runtime's threads spin between calls (its default; on 2 cores they "
        "then hold both cores and slow the programs timed between its calls)",
    )
    args = parser.parse_args()
    import torch

    env = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "processor": cpu_name(),
        "threads": THREADS,
        "onnxruntime_spinning": args.spin,
        "blas": blas_info(),
        "load_average_before": load_average(),
    }
    print(f"# {env['processor']}, {THREADS} threads; load {env['load_average_before']}")
    print("| B | T | D | H | cell | onnx ms | bptt ms | torch ms | onnx/bptt | onnx/torch |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    with thread_limits(THREADS, include_torch=True):
        for config in args.config or DEFAULT_SIZES:
            for cell in args.cell or CELLS:
                row = measure(cell, config, args.repeats, args.spin)
                rows.append(row)
                print(
                    f"| {row['B']} | {row['T']} | {row['D']} | {row['H']} | {cell} | "
                    f"{row['onnx_ms']:.2f} | {row['bptt_ms']:.2f} | {row['torch_ms']:.2f} | "
                    f"{row['onnx/bptt']:.2f} | {row['onnx/torch']:.2f} |",
                    flush=True,
                )
    env["load_average_after"] = load_average()
    worst = max(r["max_abs_diff"] for r in rows)
    print(f"# largest |ONNX Runtime - bptt| over every output: {worst:.1e}")
    print(f"# load {env['load_average_after']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"environment": env, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
