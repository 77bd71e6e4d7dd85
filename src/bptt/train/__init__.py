"""Training: the only stateful code of bptt.

    config.py          TrainConfig and its layers (defaults, task defaults, file, options)
    tasks.py           the Task protocol; text streams and synthetic sequences
    real_tasks.py      real data by name: classification.py and forecasting.py
    factories.py       what a config builds: task, model config, optimizer, memory policy
    state.py           TrainState and train_step (one window, one update)
    evaluate.py        a task's metric on its validation or test split
    checkpoint.py      checkpoint files; resume.py: what they hold and how a run resumes
    rundir.py          the output directory and metrics.jsonl
    progress.py        the progress bar or lines
    trainer.py         the Trainer: the loop, early stopping, signals

Import the pieces from their modules; this package imports nothing itself, so the pure
modules that use ``bptt.window.Batch`` stay light.
"""
