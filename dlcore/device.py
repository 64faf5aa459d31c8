"""Which device a piece of work runs on: what is available, "auto" per workload, a label."""

from __future__ import annotations

import torch

CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")

# Below about a million touched elements a GPU is launch-bound: each kernel launch and sync
# costs microseconds whatever the size, so small or loop-heavy work (an RNN time loop, a
# gradient-descent run) ran slower on an H200 than on the CPU (see ARCHITECTURE.md). "auto"
# only moves work that is big enough for the GPU's throughput to pay for that overhead.
GPU_MIN_WORKLOAD = 1_000_000


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available() -> list[str]:
    """The device types this process can use: "cpu", then "cuda" and/or "mps" when present."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if _mps_available():
        devices.append("mps")
    return devices


def resolve(choice: str, workload: int) -> torch.device:
    """The device for `workload` scalar elements: "auto" by size, else the choice or the CPU."""
    # A forced device that is missing (or a tampered URL value) falls back quietly to the CPU.
    choice = str(choice).strip().lower()
    present = available()
    if choice == "auto":
        if workload < GPU_MIN_WORKLOAD:
            return torch.device("cpu")
        for accelerator in ("cuda", "mps"):
            if accelerator in present:
                return torch.device(accelerator)
        return torch.device("cpu")
    if choice in present:
        return torch.device(choice)
    return torch.device("cpu")


def describe(device: torch.device | str) -> str:
    """A label for the page: "CPU", "CUDA (NVIDIA H200)", "MPS (Apple GPU)"."""
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return "CUDA (not available)"
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"CUDA ({torch.cuda.get_device_name(index)})"
    if device.type == "mps":
        return "MPS (Apple GPU)"
    return device.type.upper()
