"""dlcore.device: what is available, what "auto" picks, fallbacks, labels."""

from __future__ import annotations

import pytest
import torch

from dlcore import device as D


def test_available_starts_with_cpu() -> None:
    devices = D.available()
    assert devices[0] == "cpu"
    assert ("cuda" in devices) == torch.cuda.is_available()
    assert set(devices) <= {"cpu", "cuda", "mps"}


@pytest.mark.parametrize("workload", [0, 1, 10_000, D.GPU_MIN_WORKLOAD - 1])
def test_auto_keeps_small_work_on_the_cpu(workload: int) -> None:
    assert D.resolve("auto", workload) == torch.device("cpu")


def test_auto_sends_large_work_to_an_accelerator_when_there_is_one() -> None:
    expected = "cuda" if "cuda" in D.available() else ("mps" if "mps" in D.available() else "cpu")
    assert D.resolve("auto", D.GPU_MIN_WORKLOAD).type == expected
    assert D.resolve("AUTO ", 10**9).type == expected


@pytest.mark.parametrize("choice", ["cuda", "mps"])
def test_forced_choice_falls_back_to_cpu_when_missing(choice: str) -> None:
    got = D.resolve(choice, 10)
    assert got.type == (choice if choice in D.available() else "cpu")


@pytest.mark.parametrize("choice", ["cpu", "CPU"])
def test_forced_cpu(choice: str) -> None:
    assert D.resolve(choice, 10**9) == torch.device("cpu")


@pytest.mark.parametrize("choice", ["", "gpu", "tpu", "cuda:99; rm -rf", "None"])
def test_unknown_choice_is_cpu(choice: str) -> None:
    assert D.resolve(choice, 10**9) == torch.device("cpu")


def test_describe() -> None:
    assert D.describe("cpu") == "CPU"
    assert D.describe(torch.device("cpu")) == "CPU"
    label = D.describe("cuda")
    if torch.cuda.is_available():
        assert label == f"CUDA ({torch.cuda.get_device_name(0)})"
    else:
        assert label.startswith("CUDA")
