"""dlcore.training against nn.Linear + autograd + torch.optim; kinks and collapse in dlcore.mlp."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcore import datasets, optim
from dlcore import mlp as M
from dlcore import reference as R
from dlcore import training as T
from dlcore.activations import get
from dlcore.device import available

SETS = {"binary": ("circle", 2), "multiclass": ("blobs", 3), "regression": ("sine", 0)}


def data(task: str, n: int = 120, seed: int = 0, dtype: torch.dtype = torch.float64) -> T.Data:
    name, k = SETS[task]
    X, y = datasets.get(name, n, 0.3, seed)
    s = datasets.train_test_split(X.to(dtype), y, 0.25, seed)
    return T.Data(s.X_train, s.y_train, s.X_test, s.y_test, task, k)


@st.composite
def runs(draw: st.DrawFn) -> tuple[T.Data, T.Setup, int]:
    task = draw(st.sampled_from(T.TASKS))
    loss = draw(st.sampled_from(("auto", *T.LOSSES_OF_TASK[task])))
    params = {"huber": (("delta", 0.5),), "quantile": (("q", 0.8),)}.get(loss, ())
    setup = T.Setup(
        hidden=tuple(draw(st.lists(st.integers(1, 6), max_size=3))),
        activation=draw(st.sampled_from(["relu", "tanh", "identity", "elu", "sigmoid"])),
        optimizer=draw(st.sampled_from(optim.NAMES)),
        lr=draw(st.sampled_from([0.001, 0.03, 0.3])),
        batch_size=draw(st.sampled_from([1, 7, 32, 500])),  # 500 > rows: one full batch
        penalty=draw(st.sampled_from(optim.PENALTIES)),
        lam=draw(st.sampled_from([0.0, 1e-3, 0.1])),
        seed=draw(st.integers(0, 2**31 - 1)),
        loss=loss,
        loss_params=params,
        init=draw(st.sampled_from(M.INITS)),
        init_scale=draw(st.sampled_from([0.05, 0.5])),
        clip=draw(st.sampled_from([0.0, 0.0, 0.1, 1.0])),
    )
    return (
        data(task, n=draw(st.integers(8, 60)), seed=setup.seed % 1000),
        setup,
        draw(st.integers(1, 4)),
    )


@settings(max_examples=60, deadline=None)
@given(case=runs())
def test_loss_curve_equals_torch_nn_and_optim(case: tuple) -> None:
    d, setup, epochs = case
    trainer = T.Trainer(d, setup, dtype=torch.float64)
    theirs = R.training.loss_curve(trainer, epochs)
    trainer.run(epochs)
    ours = trainer.history.train_loss
    assert len(theirs) == epochs + 1
    # A diverged run stops at its first non-finite epoch; up to there both must agree.
    assert len(ours) == (trainer.epoch + 1 if trainer.diverged else epochs + 1)
    assert trainer.history.epoch == list(range(len(ours)))
    for a, b in zip(ours, theirs[: len(ours)], strict=True):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-10) or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("task", T.TASKS)
@pytest.mark.parametrize("penalty", optim.PENALTIES)
def test_gradients_equal_autograd(task: str, penalty: str) -> None:
    d = data(task)
    setup = T.Setup((5, 4), "tanh", "sgd", 0.1, 16, penalty, 0.05, seed=3)
    trainer = T.Trainer(d, setup, dtype=torch.float64)
    X, target = trainer.X_train, trainer.T_train
    ours = trainer.gradients(X, target)
    leaves = [p.detach().clone().requires_grad_(True) for p in trainer.flat_params]
    pairs = list(zip(leaves[::2], leaves[1::2], strict=True))
    out = R.mlp_forward(pairs, "tanh", X)
    loss = R.losses.loss(T.LOSS_OF_TASK[task], out, target)
    loss = loss + R.optim.penalty(leaves[::2], penalty, 0.05)
    theirs = torch.autograd.grad(loss, leaves)
    for g, r in zip(ours, theirs, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("task", "loss"), [(task, loss) for task in T.TASKS for loss in T.LOSSES_OF_TASK[task]]
)
@pytest.mark.parametrize("clip", [0.0, 0.05])
def test_every_loss_and_clipping_give_autograds_gradient(task: str, loss: str, clip: float):
    setup = T.Setup((5,), "relu", "sgd", 0.1, 16, "l1", 0.01, seed=4, loss=loss, clip=clip)
    trainer = T.Trainer(data(task), setup, dtype=torch.float64)
    X, target = trainer.X_train, trainer.T_train
    ours = trainer.gradients(X, target)
    theirs = R.training.gradients(trainer, X, target)
    for g, r in zip(ours, theirs, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-12)
    if clip:
        norm = torch.linalg.vector_norm(torch.cat([g.reshape(-1) for g in ours]))
        assert norm.item() == pytest.approx(clip, rel=1e-5)  # these gradients are far larger


def test_hinge_trains_on_labels_of_minus_one_and_one() -> None:
    trainer = T.Trainer(
        data("binary", n=300), T.Setup((8,), "tanh", "adam", 0.03, 16, loss="hinge")
    )
    assert set(trainer.T_train.unique().tolist()) == {-1.0, 1.0}
    trainer.run(40)
    assert trainer.history.test_accuracy[-1] > 0.85


def test_a_loss_the_task_cannot_use_is_refused() -> None:
    with pytest.raises(ValueError, match="regression training cannot use the hinge loss"):
        T.Trainer(data("regression"), T.Setup((), "relu", "sgd", 0.1, 8, loss="hinge"))
    with pytest.raises(ValueError, match="clipping"):
        T.Trainer(data("regression"), T.Setup((), "relu", "sgd", 0.1, 8, clip=-1.0))


class LinearModel:
    """A model written outside dlcore.mlp: y = X W + b, with its backward by hand."""

    def __init__(self, W: torch.Tensor, b: torch.Tensor) -> None:
        self.W, self.b = W.clone(), b.clone()
        self.X: torch.Tensor | None = None

    def parameters(self) -> list[torch.Tensor]:
        return [self.W, self.b]

    def penalized(self) -> list[bool]:
        return [True, False]

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        self.X = X
        return self.predict(X)

    def gradients(self, dY: torch.Tensor) -> list[torch.Tensor]:
        return [self.X.T @ dY, dY.sum(dim=0)]

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        return X @ self.W + self.b


def test_the_trainer_trains_any_model_with_a_backward() -> None:
    d = data("binary")
    setup = T.Setup((), "relu", "adam", 0.05, 8, "l2", 0.01, seed=2)
    reference = T.Trainer(d, setup, dtype=torch.float64)  # an MLP with no hidden layer
    W, b = reference.net.params[0]
    custom = T.Trainer(d, setup, dtype=torch.float64, model=LinearModel(W, b))
    reference.run(5)
    custom.run(5)
    assert custom.history.train_loss == pytest.approx(reference.history.train_loss, rel=1e-12)


def test_init_rules_set_the_weights_scale() -> None:
    d = data("regression", n=400)

    def std(init: str, scale: float = 1.0) -> float:
        setup = T.Setup((200,), "relu", "sgd", 0.1, 8, init=init, init_scale=scale)
        return T.Trainer(d, setup).net.params[1][0].std().item()  # (200, 1): fan_in 200

    assert std("small") == pytest.approx(M.SMALL_STD, rel=0.2)
    assert std("large") == pytest.approx(M.LARGE_STD, rel=0.2)
    assert std("he") == pytest.approx(math.sqrt(2 / 200), rel=0.2)
    assert std("xavier") == pytest.approx(math.sqrt(2 / 201), rel=0.2)
    assert std("auto") == std("he")  # ReLU
    assert std("custom", 0.3) == pytest.approx(0.3, rel=0.2)


def test_report_and_follow_mirror_a_run_trained_elsewhere() -> None:
    d = data("multiclass")
    setup = T.Setup((6,), "tanh", "adam", 0.05, 8)
    there, here = T.Trainer(d, setup), T.Trainer(d, setup)
    there.run(4)
    here.follow(there.report())
    here.history.extend(there.history.since(len(here.history)))
    assert (here.epoch, here.steps) == (there.epoch, there.steps)
    assert here.history.columns() == there.history.columns()
    for a, b in zip(here.flat_params, there.flat_params, strict=True):
        assert torch.equal(a, b)


def test_history_survives_torch_save() -> None:
    import io

    trainer = T.Trainer(data("binary"), T.Setup((3,), "relu", "sgd", 0.1, 8))
    trainer.run(2)
    buffer = io.BytesIO()
    torch.save(trainer, buffer)
    back = torch.load(io.BytesIO(buffer.getvalue()), weights_only=False)
    assert back.history.columns() == trainer.history.columns()
    with pytest.raises(AttributeError):
        back.history.no_such_column  # noqa: B018


def test_a_sweep_trains_every_member_to_the_target_as_one_job() -> None:
    d = data("binary")
    members = [T.Trainer(d, T.Setup((4,), "tanh", "adam", 0.05, 8, seed=s)) for s in range(3)]
    alone = T.Trainer(d, T.Setup((4,), "tanh", "adam", 0.05, 8, seed=1))
    alone.run(5)
    sweep = T.Sweep(members)
    assert sweep.run(5, budget_s=0.0) == 0 and sweep.epoch == 0
    while sweep.epoch < 5:
        sweep.run(5, budget_s=0.01)  # in slices, as a worker runs it
    assert [m.epoch for m in members] == [5, 5, 5]
    assert sweep.steps == sum(m.steps for m in members)
    h = sweep.history
    assert len(h) == 3 * 6 and sorted(set(h.member)) == [0, 1, 2]
    mine = [loss for m, loss in zip(h.member, h.train_loss, strict=True) if m == 1]
    assert mine == alone.history.train_loss  # a member trains exactly as it would alone
    mirror = T.Sweep(
        [T.Trainer(d, T.Setup((4,), "tanh", "adam", 0.05, 8, seed=s)) for s in range(3)]
    )
    mirror.follow(sweep.report())
    assert mirror.epoch == 5


def test_a_sweep_goes_on_past_a_diverged_member() -> None:
    d = data("regression")
    wild = T.Trainer(d, T.Setup((16, 16), "relu", "sgd", 1e6, 4))
    calm = T.Trainer(d, T.Setup((4,), "tanh", "sgd", 0.01, 8))
    sweep = T.Sweep([wild, calm])
    sweep.run(10)
    assert wild.diverged and not sweep.diverged
    assert calm.epoch == 10 and sweep.epoch == 10


def test_steps_epochs_and_budget() -> None:
    d = data("binary", n=100)  # 75 training rows
    trainer = T.Trainer(d, T.Setup((4,), "relu", "adam", 0.01, 10))
    assert trainer.run(3) == 3 * 8  # ceil(75 / 10) batches per epoch
    assert trainer.epoch == 3 and len(trainer.history.epoch) == 4
    assert trainer.run(3) == 0  # already there
    assert trainer.run(1_000_000, budget_s=0.0) == 0  # no time: not a single step
    trainer.step()  # a step in the middle of an epoch records nothing yet
    assert trainer.epoch == 3 and len(trainer.history.epoch) == 4


def test_same_seed_same_run_other_seed_other_run() -> None:
    d = data("multiclass")

    def curve(seed: int) -> list[float]:
        trainer = T.Trainer(d, T.Setup((6,), "relu", "momentum", 0.05, 8, seed=seed))
        trainer.run(3)
        return trainer.history.train_loss

    assert curve(1) == curve(1)
    assert curve(1) != curve(2)


def test_training_learns_each_task() -> None:
    for task in T.TASKS:
        trainer = T.Trainer(data(task, n=300), T.Setup((8, 8), "tanh", "adam", 0.03, 16))
        trainer.run(60)
        h = trainer.history
        assert h.train_loss[-1] < 0.5 * h.train_loss[0], task
        if task != "regression":
            assert h.test_accuracy[-1] > 0.85, task
        else:
            assert math.isnan(h.test_accuracy[-1])


def test_huge_learning_rate_diverges_and_stops() -> None:
    d = data("regression")
    trainer = T.Trainer(d, T.Setup((16, 16), "relu", "sgd", 1e6, 4))
    trainer.run(50)
    assert trainer.diverged
    assert trainer.epoch < 50  # it stopped at the first non-finite epoch
    assert not math.isfinite(trainer.history.train_loss[-1]) or not all(
        bool(torch.isfinite(p).all()) for p in trainer.flat_params
    )
    epoch = trainer.epoch
    trainer.run(100)
    assert trainer.epoch == epoch


def test_zero_hidden_layers_is_logistic_regression() -> None:
    d = data("binary")
    trainer = T.Trainer(d, T.Setup((), "relu", "sgd", 0.1, 8))
    assert trainer.net.layer_sizes == (2, 1)
    theirs = R.training.loss_curve(T.Trainer(d, trainer.setup), 2)
    trainer.run(2)
    assert trainer.history.train_loss == pytest.approx(theirs, rel=1e-5)


def test_helpers() -> None:
    assert [T.task_of(k) for k in (0, 2, 5)] == ["regression", "binary", "multiclass"]
    with pytest.raises(ValueError):
        T.task_of(1)
    with pytest.raises(ValueError):
        T.Trainer(data("binary"), T.Setup((2,), "relu", "sgd", 0.1, 0))
    z = torch.tensor([[-1.0], [0.0], [2.0]])
    assert T.predicted_class("binary", z).tolist() == [0, 0, 1]
    p = T.probabilities("binary", z)
    torch.testing.assert_close(p[:, 1], torch.sigmoid(z[:, 0]))
    logits = torch.randn(10, 4)
    torch.testing.assert_close(T.probabilities("multiclass", logits).sum(1), torch.ones(10))
    true, pred = torch.tensor([0, 0, 1, 2, 2, 2]), torch.tensor([0, 1, 1, 2, 0, 2])
    cm = T.confusion_matrix(true, pred, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


# --- dlcore.mlp: collapse and kinks ------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 8), min_size=2, max_size=6), seed=st.integers(0, 10**6))
def test_linear_net_collapses_to_one_layer(sizes: list[int], seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    net = M.MLP(sizes, "identity", seed=seed, dtype=torch.float64)
    for i, (W, _) in enumerate(net.params):  # non-zero biases, so that b matters too
        net.params[i] = (W, torch.randn(W.shape[1], generator=g, dtype=torch.float64))
    X = torch.randn(20, sizes[0], generator=g, dtype=torch.float64)
    W, b = M.collapse(net.params)
    assert W.shape == (sizes[0], sizes[-1])
    torch.testing.assert_close(X @ W + b, R.mlp_forward(net.params, "identity", X))


def test_kinks_of_one_relu_layer_are_minus_b_over_w() -> None:
    net = M.MLP([1, 6, 1], "relu", seed=2, dtype=torch.float64)
    W1, _ = net.params[0]
    b1 = torch.linspace(-1, 1, 6, dtype=torch.float64)
    net.params[0] = (W1, b1)
    x = torch.linspace(-3, 3, 2001, dtype=torch.float64)
    expected = sorted(t for t in (-b1 / W1[0]).tolist() if -3 < t < 3)
    found = M.kinks(net.params, net.activation, x)
    assert found.tolist() == pytest.approx(expected, abs=1e-9)
    # A unit that feeds nothing into the output switches without bending the function.
    W2, b2 = net.params[1]
    W2 = W2.clone()
    W2[0, 0] = 0.0
    net.params[1] = (W2, b2)
    fewer = M.kinks(net.params, net.activation, x)
    assert len(fewer) == len(expected) - (1 if -3 < (-b1[0] / W1[0, 0]).item() < 3 else 0)


@pytest.mark.parametrize("seed", range(5))
def test_kinks_of_deeper_net_match_slope_changes(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    net = M.MLP([1, 8, 8, 1], "leaky_relu", seed=seed, dtype=torch.float64)
    net.params = [
        (W, torch.randn(W.shape[1], generator=g, dtype=torch.float64)) for W, _ in net.params
    ]
    x = torch.linspace(-4, 4, 4001, dtype=torch.float64)
    step = (x[1] - x[0]).item()
    found = M.kinks(net.params, net.activation, x)
    y = R.mlp_forward(net.params, "leaky_relu", x[:, None], alpha=0.01)[:, 0]
    slopes = torch.diff(y) / torch.diff(x)  # (G-1,) slope of each grid interval
    bent = torch.diff(slopes).abs() > 1e-6  # (G-2,) the slope changes at grid point i + 1
    bends = x[1:-1][bent]
    assert len(found) >= 1
    # Every bend of the sampled curve lies next to a found kink, and every kink bends it.
    for b in bends.tolist():
        assert (found - b).abs().min().item() <= 2 * step
    for k in found.tolist():
        assert (bends - k).abs().min().item() <= 2 * step


def test_kinks_refuse_smooth_activations_and_handle_no_hidden_layer() -> None:
    with pytest.raises(ValueError, match="not piecewise linear"):
        M.kinks(M.MLP([1, 3, 1], "tanh").params, get("tanh"), torch.linspace(-1, 1, 10))
    net = M.MLP([1, 1], "relu")
    assert M.kinks(net.params, net.activation, torch.linspace(-1, 1, 10)).numel() == 0


@pytest.mark.parametrize("device", [d for d in available() if d != "mps"])
def test_training_on_each_device_matches_the_cpu(device: str) -> None:
    d = data("multiclass")
    setup = T.Setup((6, 5), "relu", "adam", 0.01, 16, "l2", 1e-3, seed=2)
    on_cpu = T.Trainer(d, setup, dtype=torch.float64)
    there = T.Trainer(d, setup, device=device, dtype=torch.float64)
    on_cpu.run(3)
    there.run(3)
    assert there.X_train.device.type == torch.device(device).type
    assert there.history.train_loss == pytest.approx(on_cpu.history.train_loss, rel=1e-9)


def _study_member(seed: int) -> T.Trainer:
    return T.Trainer(data("binary"), T.Setup((4,), "tanh", "adam", 0.05, 8, seed=seed))


def test_a_study_trains_its_members_one_at_a_time_as_each_would_alone() -> None:
    study = T.Study(_study_member, [0, 1, 2], member_epochs=4)
    assert study.run(2, budget_s=0.0) == 0 and study.epoch == 0
    while study.epoch < 2:
        study.run(2, budget_s=0.005)  # in slices, as a worker runs it: stops after two members
    assert study.epoch == 2 and set(study.history.member) == {0, 1}
    study.run(10)  # a target past the last member ends at the last member
    assert study.epoch == 3
    for seed in (0, 1, 2):
        alone = _study_member(seed)
        alone.run(4)
        mine = [loss for m, loss in zip(study.history.member, study.history.train_loss,
                                        strict=True) if m == seed]  # fmt: skip
        assert mine == alone.history.train_loss
    assert study.steps == 3 * alone.steps
    mirror = T.Study(_study_member, [0, 1, 2], member_epochs=4)
    mirror.follow(study.report())
    assert (mirror.epoch, mirror.steps) == (3, study.steps)


def test_a_paused_study_keeps_its_finished_members_and_redoes_the_one_it_was_in() -> None:
    import io

    study = T.Study(_study_member, [0, 1], member_epochs=4)
    study.run(1)
    study.run(2, budget_s=0.0005)  # into the second member, not through it
    assert study.epoch == 1 and 1 in study.history.member
    buffer = io.BytesIO()
    torch.save(study, buffer)
    buffer.seek(0)
    back = torch.load(buffer, weights_only=False)
    assert back.epoch == 1 and set(back.history.member) == {0}
    back.run(2)
    study.run(2)
    assert back.history.columns() == study.history.columns()  # the same as never paused
