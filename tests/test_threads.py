"""The per-call intra-op thread count of ``skprob._torch.threads``."""

import os

import pytest
import torch

from skprob._torch import threads


@pytest.fixture
def two_threads(monkeypatch):
    """Two cores, torch allowed two threads, and a settable load average."""
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    load = {"value": 0.0}
    monkeypatch.setattr(os, "getloadavg", lambda: (load["value"], 0.0, 0.0))
    yield load
    torch.set_num_threads(previous)


LARGE = threads.PARALLEL_MIN_WORK


@pytest.mark.parametrize("load", [0.0, 1.0, 1.3, 1.5])
def test_this_fit_alone_gets_the_spare_core(two_threads, load):
    # The load average counts the caller itself: ~1 on two cores when only it runs.
    two_threads["value"] = load
    assert threads.threads_for(LARGE) == 2


@pytest.mark.parametrize("load", [1.6, 2.0, 3.0])
def test_another_busy_process_means_one_thread(two_threads, load):
    two_threads["value"] = load
    assert threads.threads_for(LARGE) == 1


def test_small_products_use_one_thread_even_when_idle(two_threads):
    assert threads.threads_for(LARGE - 1) == 1


def test_a_users_own_thread_limit_is_never_exceeded(two_threads):
    torch.set_num_threads(1)
    assert threads.threads_for(100 * LARGE) == 1


def test_no_load_average_counts_as_busy(two_threads, monkeypatch):
    def unavailable():
        raise OSError("no load average")

    monkeypatch.setattr(os, "getloadavg", unavailable)
    assert threads.spare_cores() == 0.0
    assert threads.threads_for(LARGE) == 1


def test_the_count_is_restored_after_the_block(two_threads):
    with threads.intra_op_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
