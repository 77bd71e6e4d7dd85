"""Training: configuration, TrainState and train_step, the Trainer and checkpoints.

The only stateful code of bptt. Import the pieces from their modules (bptt.train.trainer,
bptt.train.config, ...); this package imports nothing itself, so the pure modules that use
``bptt.window.Batch`` stay light.
"""
