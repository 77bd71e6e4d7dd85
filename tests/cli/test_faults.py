"""Ten SIGKILLs at random moments of `bptt train` (experiments/kill_resume.py, which the
docs run with 100): the resumed run ends bit for bit where an uninterrupted one does, with no
temporary file left, every step's record once in metrics.jsonl and every checkpoint readable."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "kill_resume.py"


def test_ten_kills_at_random_moments(tmp_path):
    spec = importlib.util.spec_from_file_location("kill_resume", SCRIPT)
    kill_resume = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kill_resume)
    report = kill_resume.kill_and_resume(tmp_path, kills=10, seed=1)
    assert report["kills"] == 10
    assert report["identical_final_parameters"], report
    assert report["stale_temporary_files"] == []
    assert report["duplicate_train_records"] == 0 and report["missing_train_records"] == []
    assert report["unreadable_checkpoints"] == []
