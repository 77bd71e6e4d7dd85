"""``bptt estimators``: online gradient estimators against the exact BPTT gradient, and
online training with any of them."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from bptt.cells import CELL_NAMES
from bptt.errors import BpttError, BpttFileNotFoundError, BpttPermissionError
from bptt.model import Model, ModelConfig
from bptt.online import ESTIMATOR_NAMES, make_estimator
from bptt.online.compare import Comparison, compare_estimators
from bptt.online.snap import sparse_mask
from bptt.online.tasks import for_online
from bptt.online.train import train_online
from bptt.optim import OPTIMIZERS, make_optimizer, with_clipping
from bptt.train.config import TASKS, Layer, TrainConfig, resolve_config
from bptt.train.evaluate import evaluate
from bptt.train.factories import make_task
from bptt.train.rundir import check_writable
from bptt.types import Params

EXAMPLES = """examples:
  bptt estimators compare --task adding --cell rnn --hidden 16 --seq-len 30
  bptt estimators compare --task copy --seq-len 5 --cell lstm --hidden 8 \\
      --estimators bptt,tbptt:5,rtrl,uoro,snap1,snap2,eprop,artbp:5 --draws 50
  bptt estimators compare --task shakespeare --hidden 16 --window 50 --params runs/online/params.npz
  bptt estimators train --task copy --seq-len 5 --cell gru --estimator uoro --updates 2000
  bptt estimators train --task adding --seq-len 20 --estimator tbptt:5 --every 1 --lr 1e-3

Each estimator sees the same model, data and state; the exact gradient is full BPTT's.
Token inputs are one-hot (input_size = vocabulary size); models have one recurrent layer.
"""

DEFAULT_ESTIMATORS = "bptt,tbptt:10,artbp:10,rtrl,uoro,snap1,snap2,eprop"
# A small model by default: RTRL's influence matrix is O(H^3) per sequence.
DEFAULTS = {"task": "adding", "cell": "rnn", "hidden_size": 16, "seq_len": 50, "batch_size": 8}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "estimators",
        help="online gradient estimators (RTRL, UORO, SnAp, e-prop, ARTBP) against BPTT",
        description=(
            "compare: measure each estimator's cosine to the exact BPTT gradient, relative "
            "bias and variance over draws of its randomness, and cost per step (time, memory) "
            "on one batch; writes estimators.json and estimators.png to --out. train: update "
            "a model online with one estimator, every step or every k steps."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(title="actions", metavar="ACTION", parser_class=type(p))
    compare = actions.add_parser(
        "compare",
        help="cosine, bias, variance and cost of each estimator",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _model_options(compare)
    compare.add_argument(
        "--estimators",
        default=DEFAULT_ESTIMATORS,
        help=f"comma-separated, among {', '.join(ESTIMATOR_NAMES)} ({DEFAULT_ESTIMATORS})",
    )
    compare.add_argument("--draws", type=int, default=20, help="draws of each random one (20)")
    compare.add_argument("--window", type=int, default=100, help="steps of a text (100)")
    compare.add_argument("--params", metavar="FILE", help="params.npz of `estimators train`")
    compare.add_argument("--out", default="runs/estimators", help="output directory")
    compare.set_defaults(func=run_compare, command="estimators compare")
    train = actions.add_parser(
        "train",
        help="online training with one estimator",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _model_options(train)
    add = train.add_argument
    add("--estimator", default="uoro", help=f"one of {', '.join(ESTIMATOR_NAMES)} (uoro)")
    add("--every", type=int, default=1, help="fewest steps between updates (1: every step)")
    add("--updates", type=int, default=1000, help="parameter updates (1000)")
    add("--optimizer", default="adam", choices=OPTIMIZERS, metavar="NAME", help="(adam)")
    add("--lr", type=float, default=1e-3, help="learning rate (1e-3)")
    add("--clip", type=float, default=1.0, help="global-norm clip, 0 off (1.0)")
    add("--chunk", type=int, default=100, help="steps per chunk of a text stream (100)")
    add("--eval-every", type=int, default=250, help="updates between evaluations (250)")
    add("--eval-sequences", type=int, default=200, help="evaluation sequences (200)")
    add("--out", default="runs/online", help="output directory (runs/online)")
    train.set_defaults(func=run_train, command="estimators train")
    p.set_defaults(func=lambda args: _no_action(p), command="estimators")


def _no_action(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _model_options(p: argparse.ArgumentParser) -> None:
    add = p.add_argument
    add("--task", choices=TASKS, metavar="TASK", help="adding (default), copy, shakespeare, ...")
    add("--text", metavar="PATH", help="text file for --task text")
    add("--cell", metavar="CELL", help=f"{', '.join(CELL_NAMES)} (rnn)")
    add("--hidden", type=int, help="hidden units H (16)")
    add("--seq-len", type=int, help="T of a synthetic task (50)")
    add("--batch", type=int, help="sequences B (8)")
    add("--seed", type=int, default=0)
    add(
        "--density",
        type=float,
        default=1.0,
        help="fraction of W_h kept (1: dense); below 1 a fixed random sparse W_h, kept sparse in "
        "training, whose pattern SnAp-n follows",
    )


def _config(args: argparse.Namespace) -> TrainConfig:
    """The settings of the command line over the defaults here, checked before any work."""
    if not 0.0 < args.density <= 1.0:  # NaN fails too
        raise BpttError(f"`--density` must be in (0, 1], got {args.density}.")
    options = {
        "task": args.task or ("text" if args.text else None),
        "text": args.text,
        "cell": args.cell,
        "hidden_size": args.hidden,
        "seq_len": args.seq_len,
        "batch_size": args.batch,
        "seed": args.seed,
        "eval_sequences": getattr(args, "eval_sequences", None),
    }
    return resolve_config(Layer("command line", options), defaults=DEFAULTS)


def _model(config: TrainConfig, density: float) -> tuple[Model, Any, Params, Any]:
    """The one-layer model of ``config`` on its task (one-hot inputs), float64 params, and
    the sparsity pattern of W_h (None when dense)."""
    task = for_online(make_task(config))
    model_config = ModelConfig(
        cell=config.cell,
        hidden_size=config.hidden_size,
        forget_bias=config.forget_bias,
        **task.model_io(),
    )
    model = Model(model_config)
    params = model.init(np.random.default_rng(config.seed), dtype=np.float64)
    if density >= 1.0:
        return model, task, params, None
    W_h = params["layers.0.W_h"]
    mask = sparse_mask(np.random.default_rng([config.seed, 7]), W_h.shape, density)
    return model, task, params | {"layers.0.W_h": W_h * mask}, mask


def _load_params(path: str, params: Params) -> Params:
    """Params saved by `estimators train` (params.npz), checked against the model's."""
    file = Path(path)
    if not file.is_file():
        raise BpttFileNotFoundError(f"Params file {file} does not exist.")
    with np.load(file, allow_pickle=False) as data:
        loaded = {k: data[k] for k in data.files}
    wrong = [k for k in params if k not in loaded or loaded[k].shape != params[k].shape]
    if wrong or set(loaded) != set(params):
        raise BpttError(
            f"Params file {file} does not fit this model (differs at {wrong or sorted(loaded)}): "
            "give the same --task, --cell and --hidden as the run that saved it."
        )
    return {k: loaded[k].astype(np.float64) for k in params}


def run_compare(args: argparse.Namespace) -> int:
    config = _config(args)
    if args.window < 1:
        raise BpttError(f"`--window` must be >= 1, got {args.window}.")
    if args.draws < 2:
        raise BpttError(f"`--draws` must be >= 2 (to measure a variance), got {args.draws}.")
    names = [n.strip() for n in args.estimators.split(",") if n.strip()]
    estimators = [make_estimator(n) for n in names]  # an unknown name fails before any work
    out = Path(args.out)
    check_writable(out)
    model, task, params, _ = _model(config, args.density)
    if args.params:
        params = _load_params(args.params, params)
    batch = task.train_batch(config.seed, 0, config.batch_size)
    if task.stateful:
        batch = batch.slice(0, min(args.window, batch.inputs.shape[0]))
    result = compare_estimators(
        model, params, batch, estimators, loss=task.loss, draws=args.draws, seed=args.seed
    )
    print(comparison_table(result))
    _make_directory(out)
    (out / "estimators.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    from bptt.online.figures import comparison_png

    title = (
        f"{config.task}, {config.cell} H={config.hidden_size}, T={result.steps}, "
        f"B={result.batch_size}"
    )
    (out / "estimators.png").write_bytes(comparison_png(result, title=title))
    print(f"wrote {out / 'estimators.json'} and {out / 'estimators.png'}")
    return 0


def _make_directory(out: Path) -> None:
    """Create the output directory when there is something to write (checked writable at the
    start, so nothing is created by a command that fails)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        message = f"Cannot create {out} ({error.strerror}); choose another --out."
        raise BpttPermissionError(message) from None


def comparison_table(result: Comparison) -> str:
    """The comparison as aligned text, one row per estimator."""
    head = (
        f"{'estimator':<14}{'draws':>6}{'cosine':>9}{'cos(mean)':>10}{'bias':>10}"
        f"{'+-':>9}{'variance':>10}{'ms/step':>9}{'memory':>11}"
    )
    rows = [
        f"exact gradient norm {result.exact_norm:.4g}, mean loss {result.loss:.4g}, "
        f"T={result.steps}, B={result.batch_size}",
        head,
    ]
    for r in result.reports:
        rows.append(
            f"{r.name:<14}{r.draws:>6}{r.cosine:>9.4f}{r.cosine_of_mean:>10.4f}{r.bias:>10.2e}"
            f"{r.bias_stderr:>9.1e}{r.variance:>10.2e}{1e3 * r.seconds_per_step:>9.3f}"
            f"{r.state_bytes / 1024:>9.1f}KiB"
        )
    return "\n".join(rows)


def run_train(args: argparse.Namespace) -> int:
    config = _config(args)
    for name in ("every", "updates", "chunk"):
        if getattr(args, name) < 1:
            raise BpttError(f"`--{name}` must be >= 1, got {getattr(args, name)}.")
    if args.eval_every < 0:
        raise BpttError(f"`--eval-every` must be >= 0 (0: at the end only), got {args.eval_every}.")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise BpttError(f"`--lr` must be a finite number > 0, got {args.lr}.")
    if not (math.isfinite(args.clip) and args.clip >= 0):
        raise BpttError(f"`--clip` must be a finite number >= 0 (0: off), got {args.clip}.")
    make_estimator(args.estimator)  # an unknown name fails before any work
    optimizer = make_optimizer(args.optimizer, args.lr)
    optimizer = with_clipping(optimizer, args.clip) if args.clip > 0 else optimizer
    out = Path(args.out)
    check_writable(out)
    model, task, params, mask = _model(config, args.density)
    masks = None if mask is None else {"layers.0.W_h": mask.astype(np.float64)}
    options = {"mask": mask} if mask is not None and args.estimator.startswith("snap") else {}
    estimator = make_estimator(args.estimator, **options)
    print(
        f"online training: {config.task}, {config.cell} H={config.hidden_size}, B="
        f"{config.batch_size}, estimator {estimator.name}, an update every >= {args.every} "
        f"step(s), {args.updates} updates"
    )

    def show(record: dict[str, Any]) -> None:
        if record["kind"] == "eval":
            shown = {k: v for k, v in record.items() if k not in ("kind", "update")}
            metrics = ", ".join(f"{k} {v:.4g}" for k, v in shown.items())
            print(f"update {record['update']:>6}  valid: {metrics}")

    params, records = train_online(
        model,
        params,
        task,
        estimator,
        optimizer,
        updates=args.updates,
        batch_size=config.batch_size,
        seed=config.seed,
        every=args.every,
        chunk=args.chunk,
        evaluate=lambda p: evaluate(model, p, task, config, "valid"),
        eval_every=args.eval_every,
        on_record=show,
        masks=masks,
    )
    _make_directory(out)
    np.savez(out / "params.npz", **params)
    (out / "history.json").write_text(json.dumps(records, indent=1) + "\n")
    _train_figure(out, records, task.metric.name, estimator.name)
    print(f"wrote {out / 'params.npz'}, {out / 'history.json'} and {out / 'curve.png'}")
    return 0


def _train_figure(out: Path, records: list[dict[str, Any]], metric: str, name: str) -> None:
    from bptt.online.figures import curves_png

    evals = [r for r in records if r["kind"] == "eval"]
    curve = ([r["update"] for r in evals], [r[metric] for r in evals])
    png = curves_png({name: curve}, xlabel="updates", ylabel=f"validation {metric}")
    (out / "curve.png").write_bytes(png)
