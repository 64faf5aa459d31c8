"""Live settings: Trainer.apply keeps the weights and optimizer state, records the step, replays."""

from __future__ import annotations

import io

import pytest
import torch

from dlcore import datasets
from dlcore import training as T


def data(n: int = 120) -> T.Data:
    X, y = datasets.get("circle", n, 0.3, 0)
    s = datasets.train_test_split(X, y, 0.25, 0)
    return T.Data(s.X_train, s.y_train, s.X_test, s.y_test, "binary", 2)


def trainer(optimizer: str = "adam", batch: int = 8, **setup) -> T.Trainer:
    return T.Trainer(data(), T.Setup((6, 6), "tanh", optimizer, 0.01, batch, **setup))


def steps(t: T.Trainer, n: int) -> None:
    with torch.inference_mode():
        for _ in range(n):
            t.step()


def same_run(a: T.Trainer, b: T.Trainer) -> None:
    """Bit for bit: every weight, the step count and every history row."""
    assert a.steps == b.steps and a.epoch == b.epoch
    for p, q in zip(a.flat_params, b.flat_params, strict=True):
        assert torch.equal(p, q)
    assert a.history.columns() == b.history.columns()


def test_a_live_learning_rate_change_equals_a_run_with_the_same_change_at_the_same_step():
    live = trainer()
    steps(live, 37)  # mid-epoch: 90 rows in batches of 8 make 12 steps an epoch
    m_before, v_before = live.opt.m.clone(), live.opt.v.clone()
    live.apply({"lr": 0.1})
    assert live.opt.lr == 0.1 and live.setup.lr == 0.1 and live.opt.t == 37
    assert torch.equal(live.opt.m, m_before) and torch.equal(live.opt.v, v_before)  # state kept
    steps(live, 83)
    # 37 steps: three epochs of 12, and one batch of 8 of the fourth's 90 rows.
    record = {"step": 37, "epoch": pytest.approx(3 + 8 / 90), "change": {"lr": 0.1}}
    assert live.changes == [record]
    replayed = trainer()
    replayed.replay(live.changes, live.steps)
    same_run(live, replayed)
    unchanged = trainer()
    steps(unchanged, 120)
    assert not torch.equal(unchanged.flat_params[0], live.flat_params[0])  # the change counted


def test_a_batch_size_change_mid_epoch_cuts_the_rest_of_the_epoch_into_the_new_size():
    t = trainer(batch=8)
    steps(t, 5)  # 40 of 90 rows trained on; 50 left
    t.apply({"batch_size": 32})
    assert [x.shape[0] for x, _ in t._batches[::-1]] == [32, 18]
    steps(t, 2)
    assert t.epoch == 1 and len(t.history) == 2  # the epoch ends where its rows run out
    replayed = trainer(batch=8)
    replayed.replay(t.changes, t.steps)
    same_run(t, replayed)


def test_penalty_and_optimizer_hyper_parameters_change_live_and_replay():
    t = trainer("momentum")
    steps(t, 10)
    t.apply({"penalty": "l2", "lam": 0.01})
    steps(t, 10)
    t.apply({"hyper": {"momentum": 0.5}})
    assert t.opt.hyper["momentum"] == 0.5 and t.setup.hyper == (("momentum", 0.5),)
    steps(t, 10)
    replayed = trainer("momentum")
    replayed.replay(t.changes, t.steps)
    same_run(t, replayed)
    assert [c["step"] for c in t.changes] == [10, 20]


@pytest.mark.parametrize(
    "optimizer, change, message",
    [
        ("adam", {"hidden": (3,)}, "cannot change hidden live"),
        ("adam", {"lr": float("nan")}, "learning rate"),
        ("adam", {"batch_size": 0}, "batch size"),
        ("adam", {"penalty": "l3"}, "unknown penalty"),
        ("adam", {"lam": -1.0}, "penalty strength"),
        ("adam", {"hyper": {"betas": (0.9, 1.5)}}, "betas"),
        ("adam", {"hyper": {"amsgrad": True}}, "amsgrad of adam cannot change"),
        ("rmsprop", {"hyper": {"momentum": 0.9}}, "momentum of rmsprop cannot change"),
    ],
)
def test_a_change_the_run_cannot_take_is_refused_and_leaves_the_run_as_it_was(
    optimizer, change, message
):
    t = trainer(optimizer)
    steps(t, 3)
    before = t.setup
    with pytest.raises(ValueError, match=message):
        t.apply(change)
    assert t.setup == before and t.changes == []


def test_the_changes_travel_with_the_job_and_to_a_mirror():
    t = trainer()
    steps(t, 4)
    t.apply({"lr": 0.03, "batch_size": 16})
    buffer = io.BytesIO()
    torch.save(t, buffer)
    back = torch.load(io.BytesIO(buffer.getvalue()), weights_only=False)
    assert back.changes == t.changes and back.setup == t.setup and back.opt.lr == 0.03
    mirror = trainer()
    mirror.follow(t.report())
    assert mirror.changes == t.changes and mirror.setup.batch_size == 16


def test_identity_ignores_the_live_settings_only():
    a = T.Setup((4,), "tanh", "adam", 0.01, 32)
    live = T.Setup((4,), "tanh", "adam", 0.3, 8, penalty="l1", lam=0.1, hyper=(("eps", 1e-6),))
    assert T.identity(a) == T.identity(live)
    assert T.identity(a) != T.identity(T.Setup((4,), "relu", "adam", 0.01, 32))
    assert T.live_settings(live)["lr"] == 0.3


def test_a_weight_edited_by_hand_changes_that_number_only_and_replays():
    t = trainer()
    steps(t, 15)
    before = [p.clone() for p in t.flat_params]
    m_before = t.opt.m.clone()
    t.apply({"param": (2, (1, 3), 2.5)})  # W2, from hidden unit 2 to unit 4
    assert t.flat_params[2][1, 3].item() == 2.5 and torch.equal(t.opt.m, m_before)
    changed = [not torch.equal(a, b) for a, b in zip(before, t.flat_params, strict=True)]
    assert changed == [False, False, True, False, False, False]
    assert (t.flat_params[2] != before[2]).sum() == 1
    t.apply({"param": (3, (0,), -1.0)})  # b2's first unit
    steps(t, 30)
    replayed = trainer()
    replayed.replay(t.changes, t.steps)
    same_run(t, replayed)
    assert t.changes[0]["change"] == {"param": (2, (1, 3), 2.5)}


@pytest.mark.parametrize(
    "edit, message",
    [
        ((9, (0, 0), 1.0), "parameter index 9"),
        ((0, (5, 0), 1.0), "not inside"),
        ((1, (0, 0), 1.0), "not inside"),  # a bias has one index
        ((0, (0, 0), float("inf")), "finite"),
        ("W1", "an edit is"),
    ],
)
def test_an_edit_off_the_net_is_refused(edit, message):
    t = trainer()
    with pytest.raises(ValueError, match=message):
        t.apply({"param": edit})
    assert t.changes == []
