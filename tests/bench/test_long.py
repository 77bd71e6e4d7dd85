"""bptt.bench.run_long: full versus checkpointed BPTT on one long sequence."""

import json

import pytest

from bptt.bench import format_table, run_long, write_json
from bptt.engine.plan import make_plan, peak_slots, plan_cost


def test_long_full_versus_checkpointed(tmp_path):
    # T = 400 with H = 16: full BPTT keeps 400 step caches, the budgets about 40 or 25 slots.
    results = run_long(T=400, B=2, D=3, H=16, budgets=("sqrt", 25), repeats=2, rss=False)
    env, *rows = results
    assert env["kind"] == "environment" and env["threads"] >= 1
    assert [r["kind"] for r in rows] == ["long"] * 3
    assert [r["policy"] for r in rows] == ["full", "sqrt", "25"]
    full, sqrt, m25 = rows
    for r in rows:
        assert (r["cell"], r["B"], r["T"], r["D"], r["H"], r["O"]) == ("lstm", 2, 400, 3, 16, 3)
        assert r["readout"] == "all"
        assert r["time_s"] > 0 and len(r["time_runs_s"]) == 2
        assert r["rss_mib"] is None and r["rss_ratio"] is None
        assert r["memory_ratio"] == full["tracemalloc_mib"] / r["tracemalloc_mib"]
    assert full["stored_states"] == full["step_evaluations"] == 400
    assert full["time_ratio"] is None and full["memory_ratio"] == 1.0
    for r, policy in ((sqrt, "sqrt"), (m25, 25)):
        plan = make_plan(400, policy)
        assert (r["stored_states"], r["step_evaluations"]) == (peak_slots(plan), plan_cost(plan))
        assert r["stored_states"] < 400 < r["step_evaluations"]
        ratios = [c / f for c, f in zip(r["time_runs_s"], full["time_runs_s"], strict=True)]
        assert r["time_ratio_runs"] == ratios and min(ratios) <= r["time_ratio"] <= max(ratios)
        # The point of checkpointing: NumPy's peak during the step is well below full BPTT's.
        assert r["tracemalloc_mib"] < full["tracemalloc_mib"] / 2

    table = format_table(results)
    assert "Long sequences, one training step of lstm with B=2, T=400, D=3, H=16" in table
    assert "H=16 (per-step readout and MSE): full versus checkpointed BPTT" in table
    assert "| policy | stored states | step evaluations | time s | time / full |" in table
    assert f"| full | 400 | 400 | {full['time_s']:.3f} | - |" in table
    assert f"| 25 | {m25['stored_states']} | {m25['step_evaluations']} |" in table
    path = tmp_path / "long.json"
    write_json(results, path)
    assert json.loads(path.read_text()) == json.loads(json.dumps(results))


def test_long_last_step_readout():
    # With a last-step readout, checkpointed BPTT keeps no per-step outputs, readout outputs
    # or their gradients: its peak is a smaller fraction of full BPTT's than with a per-step
    # readout at the same size (about 0.15 versus 0.27 at T = 400, H = 16).
    fraction = {}
    for readout in ("all", "last"):
        results = run_long(T=400, B=2, D=3, H=16, budgets=("sqrt",), repeats=1, rss=False,
                           readout=readout)  # fmt: skip
        full, sqrt = results[1:]
        assert [(r["policy"], r["readout"]) for r in (full, sqrt)] == [
            ("full", readout),
            ("sqrt", readout),
        ]
        fraction[readout] = sqrt["tracemalloc_mib"] / full["tracemalloc_mib"]
    assert fraction["last"] < 0.75 * fraction["all"], fraction
    table = format_table(results)
    assert "H=16 (readout and MSE of the last step): full versus checkpointed BPTT" in table


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"T": 0}, "`T` must be an integer >= 1, got 0."),
        ({"readout": "none"}, "Unknown readout 'none'"),
        ({"repeats": 0}, "`repeats` must be an integer >= 1, got 0."),
        ({"cell": "lstmx"}, "Unknown cell 'lstmx'"),
        ({"budgets": ("sqrt", 0)}, "Unknown checkpointing budget 0"),
        ({"budgets": (True,)}, "Unknown checkpointing budget True"),
        ({"budgets": ("sqrt", "sqrt")}, "`budgets` repeats a policy"),
        ({"clock": "gpu"}, "Unknown clock 'gpu'"),
    ],
)
def test_long_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_long(**{"T": 4, "B": 1, "D": 1, "H": 2, "rss": False, **kwargs})
