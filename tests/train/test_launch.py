"""How a process learns that it is one of several: the launcher's variables, and what it says
when mpi4py is missing. No MPI is needed here (tests/train/test_distributed.py runs it)."""

from __future__ import annotations

import sys

import pytest

from bptt.cli import main
from bptt.errors import MissingExtraError
from bptt.train import distributed
from bptt.train.distributed import current_world, launched_rank, launched_size

LAUNCHERS = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")


@pytest.fixture
def launcher(monkeypatch):
    """No launcher variables and no cached world; set() some, as mpiexec would."""
    for name in (*LAUNCHERS, "MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK", "BPTT_MPI"):
        monkeypatch.delenv(name, raising=False)
    distributed._world_of_launcher.cache_clear()
    yield monkeypatch
    distributed._world_of_launcher.cache_clear()


def test_one_process_without_a_launcher(launcher):
    assert launched_size() is None and launched_rank() == 0
    assert current_world() is None


@pytest.mark.parametrize(
    "variables, size, rank",
    [
        ({"PMI_SIZE": "2", "PMI_RANK": "1"}, 2, 1),  # MPICH's hydra, srun --mpi=pmi2
        ({"OMPI_COMM_WORLD_SIZE": "3", "OMPI_COMM_WORLD_RANK": "2"}, 3, 2),  # Open MPI
        ({"PMIX_RANK": "1"}, 0, 1),  # srun --mpi=pmix: the size comes from MPI
        ({"BPTT_MPI": "1"}, 0, 0),  # another launcher, named by hand
        ({"PMI_SIZE": "2", "BPTT_MPI": "0"}, None, 0),  # a launcher ignored by hand
    ],
)
def test_the_launchers_variables(launcher, variables, size, rank):
    for name, value in variables.items():
        launcher.setenv(name, value)
    assert launched_size() == size
    assert launched_rank() == rank


def test_one_launched_process_trains_alone(launcher):
    launcher.setenv("PMI_SIZE", "1")
    assert current_world() is None  # mpiexec -n 1: the one-process path, mpi4py not needed


def test_without_mpi4py_the_run_says_what_to_install(launcher, capsys, tmp_path):
    launcher.setenv("PMI_SIZE", "2")
    launcher.setenv("PMI_RANK", "0")
    launcher.setitem(sys.modules, "mpi4py", None)  # import mpi4py fails
    with pytest.raises(MissingExtraError, match=r"pip install 'bptt\[mpi\]'"):
        current_world()
    assert main(["train", "--task", "adding", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mpi4py is not installed" in err[0] and not (tmp_path / "run").exists()
    launcher.setenv("PMI_RANK", "1")  # the other processes exit 2 without a word
    assert main(["train", "--task", "adding", "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == ""
