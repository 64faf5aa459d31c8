"""Two toy jobs of other shapes than the MLP trainer, for the engine's tests: a CNN and an RNN.

They use autograd (a job may; only dlcore's lesson code may not) and report what their pages would
draw: learned filters and feature maps, or gate activations over time. A spawned worker imports
this module by name, so it lives beside the tests, not inside one.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F

from dlcore.training import History


class _Toy(ABC):
    """Shared by both toys: full-batch steps of plain gradient descent, one step per epoch."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor, params: list[torch.Tensor]) -> None:
        self.X, self.y, self.params = X, y, params
        self.epoch = self.steps = 0
        self.diverged = False
        self.history = History(("epoch", "loss"))
        self.history.append({"epoch": 0, "loss": self._loss().item()})

    @abstractmethod
    def _loss(self) -> torch.Tensor:
        """The full-batch loss, with autograd."""

    def run(self, epochs: int, budget_s: float = math.inf) -> int:
        start, before = time.perf_counter(), self.steps
        while self.epoch < epochs and not self.diverged and time.perf_counter() - start < budget_s:
            for p in self.params:
                p.requires_grad_(True)
            loss = self._loss()
            grads = torch.autograd.grad(loss, self.params)
            with torch.no_grad():
                for p, g in zip(self.params, grads, strict=True):
                    p -= 0.1 * g
            self.steps += 1
            self.epoch += 1
            value = loss.item()
            self.history.append({"epoch": self.epoch, "loss": value})
            self.diverged = not math.isfinite(value)
        return self.steps - before

    def follow(self, report: dict) -> None:
        self.epoch, self.steps = report["epoch"], report["steps"]


class ConvJob(_Toy):
    """Conv 3x3 (4 filters) -> ReLU -> global average -> linear, on 8x8 images of two classes."""

    def __init__(self, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        X = torch.randn(32, 1, 8, 8, generator=g)  # (N, C, H, W)
        y = (X[:, 0, :, :4].mean(dim=(1, 2)) > X[:, 0, :, 4:].mean(dim=(1, 2))).long()
        filters = 0.3 * torch.randn(4, 1, 3, 3, generator=g)
        head = 0.3 * torch.randn(4, 2, generator=g)
        super().__init__(X, y, [filters, head])

    def _maps(self) -> torch.Tensor:
        return F.relu(F.conv2d(self.X, self.params[0], padding=1))  # (N, 4, 8, 8)

    def _loss(self) -> torch.Tensor:
        features = self._maps().mean(dim=(2, 3))  # (N, 4)
        return F.cross_entropy(features @ self.params[1], self.y)

    def report(self) -> dict:
        with torch.no_grad():
            maps = self._maps()[0].numpy().copy()  # (4, 8, 8): the first image's feature maps
        filters = self.params[0].detach().numpy().copy()
        return {"epoch": self.epoch, "steps": self.steps, "filters": filters, "maps": maps}

    def follow(self, report: dict) -> None:
        super().follow(report)
        with torch.no_grad():
            self.params[0].copy_(torch.from_numpy(report["filters"]))


class GatedRNNJob(_Toy):
    """A one-gate recurrent net remembering the sign of the first input of a sequence."""

    def __init__(self, seed: int = 0, T: int = 6, H: int = 5) -> None:
        g = torch.Generator().manual_seed(seed)
        X = torch.randn(T, 16, 1, generator=g)  # (T, B, I)
        y = (X[0, :, 0] > 0).float()  # (B,)
        W = 0.5 * torch.randn(1 + H, 2 * H, generator=g)  # input and state -> gate and candidate
        head = 0.5 * torch.randn(H, generator=g)
        self.H = H
        super().__init__(X, y, [W, head])

    def _gates(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(T, B, H) update gates and states."""
        W, H = self.params[0], self.H
        h = self.X.new_zeros(self.X.shape[1], H)
        gates, states = [], []
        for x in self.X.unbind(0):
            z, n = (torch.cat((x, h), dim=1) @ W).split(H, dim=1)  # (B, H) each
            u = torch.sigmoid(z)
            h = u * h + (1 - u) * torch.tanh(n)
            gates.append(u)
            states.append(h)
        return torch.stack(gates), torch.stack(states)

    def _loss(self) -> torch.Tensor:
        _, states = self._gates()
        return F.binary_cross_entropy_with_logits(states[-1] @ self.params[1], self.y)

    def report(self) -> dict:
        with torch.no_grad():
            gates, _ = self._gates()
        trace = gates[:, 0].T.numpy().copy()  # (H, T): units x time for the first sequence
        return {"epoch": self.epoch, "steps": self.steps, "update_gate": trace}


class BrokenJob(_Toy):
    """A job whose training raises, as a bug in a page's model would."""

    def __init__(self) -> None:
        super().__init__(torch.zeros(1), torch.zeros(1), [torch.zeros(1)])

    def _loss(self) -> torch.Tensor:
        if self.params[0].requires_grad:
            raise RuntimeError("shapes (3, 4) and (5, 6) do not fit")
        return self.params[0].sum()

    def report(self) -> dict:
        return {"epoch": self.epoch, "steps": self.steps}


class ThreadsJob(_Toy):
    """A job that reports how many threads each torch op gets in the worker that trains it."""

    def __init__(self) -> None:
        super().__init__(torch.zeros(4), torch.zeros(4), [torch.zeros(4)])
        self.threads = 0

    def _loss(self) -> torch.Tensor:
        return ((self.X - self.params[0]) ** 2).mean()

    def report(self) -> dict:
        return {"epoch": self.epoch, "steps": self.steps, "threads": torch.get_num_threads()}

    def follow(self, report: dict) -> None:
        super().follow(report)
        self.threads = report["threads"]
