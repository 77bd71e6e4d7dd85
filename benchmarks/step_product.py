"""What bounds bptt's LSTM inference: one step's matrix product through NumPy's BLAS against
torch.nn.LSTM's whole inference step, at the default sizes of `bptt bench`.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/step_product.py

For each (B, T, D, H), medians of 5 rounds:
  stacked   the product bptt runs per step, [W_h^T W_x^T b] (4H, H+D+1) @ [h; x; 1] (H+D+1, B)
  W_h only  the recurrent product alone, W_h^T (4H, H) @ h (H, B): a floor for any loop that
            calls BLAS once per step
  torch     torch.nn.LSTM inference over T steps (one fused oneDNN kernel), divided by T
NumPy's products are all timed before torch is imported: the threads of one library spin for
a while after their last call and would take the other's cores.
"""

import statistics
import time

import numpy as np

from bptt.bench import DEFAULT_SIZES, blas_info

ROUNDS = 5


def median_per_call(fn, calls, steps=1):
    fn()
    runs = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - start) / calls / steps)
    return statistics.median(runs) * 1e6


def calls_for(B, D, H):
    return max(3, int(2e8 / (8 * H * (H + D + 1) * B)))


def numpy_products(B, D, H):
    rng = np.random.default_rng(0)
    K = H + D + 1
    W = rng.standard_normal((4 * H, K), dtype=np.float32)
    W_h = np.ascontiguousarray(W[:, :H])
    hx = rng.standard_normal((K, B), dtype=np.float32)
    h = np.ascontiguousarray(hx[:H])
    z = np.empty((4 * H, B), np.float32)
    calls = calls_for(B, D, H)
    stacked = median_per_call(lambda: np.matmul(W, hx, out=z), calls)
    return stacked, median_per_call(lambda: np.matmul(W_h, h, out=z), calls)


def torch_step(B, T, D, H, threads):
    import torch

    torch.set_num_threads(threads)
    lstm = torch.nn.LSTM(D, H)
    xs = torch.randn(T, B, D)

    def run():
        with torch.inference_mode():
            lstm(xs)

    return median_per_call(run, max(1, calls_for(B, D, H) // T), T)


def main():
    info = blas_info()
    threads = info.get("num_threads") or 1
    numpy_us = {c: numpy_products(c.B, c.D, c.H) for c in DEFAULT_SIZES}
    time.sleep(1)
    torch_us = {c: torch_step(*c, threads) for c in DEFAULT_SIZES}
    print(info, f"{threads} threads")
    print("| B | T | D | H | stacked us | W_h only us | torch us per step | W_h only / torch |")
    print("|---|---|---|---|---|---|---|---|")
    for c in DEFAULT_SIZES:
        stacked, alone = numpy_us[c]
        print(
            f"| {c.B} | {c.T} | {c.D} | {c.H} | {stacked:.1f} | {alone:.1f} | "
            f"{torch_us[c]:.1f} | {alone / torch_us[c]:.2f} |"
        )


if __name__ == "__main__":
    main()
