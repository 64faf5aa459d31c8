"""ui.playground: problems from data, the live run's limits, and the exports."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import torch

from dlcore import training
from dlcore.reference import training as reference_training
from ui import playground as play
from ui import uploads


def circle(features=("x1", "x2")) -> play.Problem:
    return play.generated("circle", 200, 0.3, 1, 0.25, list(features), 2)


def test_generated_problem_scales_with_training_rows_only():
    p = circle(["x1", "x2", "x1_sq", "x1_x2"])
    assert p.data.X_train.shape == (150, 4) and p.data.X_test.shape == (50, 4)
    assert p.feature_names == ["x₁", "x₂", "x₁²", "x₁·x₂"]
    torch.testing.assert_close(p.data.X_train.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(p.inputs(p.raw_train), p.data.X_train)  # a grid goes the same way
    assert p.data.task == "binary" and p.class_names == ["0", "1"]


def test_regression_targets_are_standardised_and_restored():
    p = play.generated("polynomial", 300, 0.1, 0, 0.2, [], 2)
    assert p.dims == 1 and p.features == ()
    assert abs(p.data.y_train.mean().item()) < 1e-5
    assert p.data.y_train.std(correction=0).item() == pytest.approx(1.0, rel=1e-4)
    restored = p.target_units(p.data.y_train)
    assert restored.std().item() > 0.1  # back in the target's own units


def test_uploaded_text_classes_and_named_features():
    table = uploads.read_csv(uploads.sample_path("blobs_3_classes.csv").read_bytes(), "b.csv")
    prepared = uploads.to_tensors(table, ["x1", "x2"], "label")
    p = play.uploaded(prepared, 0.2, 0, ["x1", "x1_x2"])
    assert p.data.task == "multiclass" and p.data.n_classes == 3
    assert p.feature_names == ["x1", "x1·x2"]
    assert p.class_names == prepared.classes


def test_grid_covers_the_data():
    p = circle()
    xs, ys, points = play.grid(p, 30)
    assert points.shape == (900, 2) and xs.shape == ys.shape == (30,)
    X = torch.cat((p.raw_train, p.raw_test))
    assert xs[0] < X[:, 0].min() and xs[-1] > X[:, 0].max()


def trained(task: str = "multiclass") -> tuple[play.Problem, training.Trainer]:
    p = play.generated("blobs", 200, 0.3, 2, 0.2, ["x1", "x2", "x2_sq"], 3)
    trainer = training.Trainer(p.data, training.Setup((5, 3), "leaky_relu", "adam", 0.01, 16))
    trainer.run(3)
    return p, trainer


def test_state_dict_loads_into_the_torch_nn_model_and_gives_the_same_outputs():
    p, trainer = trained()
    model = reference_training.sequential(trainer.net.layer_sizes, trainer.net.activation)
    state = torch.load(io.BytesIO(play.state_dict_bytes(trainer)))
    model.load_state_dict(state)  # strict: every key and shape matches
    with torch.no_grad():
        torch.testing.assert_close(model(p.data.X_test), trainer.output(p.data.X_test))
    code = play.sequential_code(trainer, "m.pt")
    assert "nn.Linear(3, 5)" in code and "nn.LeakyReLU(negative_slope=0.01)" in code
    assert 'model.load_state_dict(torch.load("m.pt"))' in code


def test_weights_json_rebuilds_the_net():
    p, trainer = trained()
    doc = json.loads(play.weights_json(p, trainer))
    assert doc["layer_sizes"] == [3, 5, 3, 3] and doc["epochs_trained"] == 3
    assert doc["features"] == ["x₁", "x₂", "x₂²"] and doc["classes"] == ["0", "1", "2"]
    h = p.inputs(p.raw_test).numpy()
    np.testing.assert_allclose(h, p.data.X_test.numpy(), rtol=1e-6)
    for i, layer in enumerate(doc["layers"]):
        h = h @ np.array(layer["W"]) + np.array(layer["b"])
        if i < len(doc["layers"]) - 1:
            h = np.where(h > 0, h, doc["activation"]["alpha"] * h)
    np.testing.assert_allclose(h, trainer.output(p.data.X_test).numpy(), rtol=1e-5, atol=1e-6)


def test_history_csv():
    _, trainer = trained()
    table = pd.read_csv(io.StringIO(play.history_csv(trainer)))
    assert list(table.columns) == [
        "epoch", "train_loss", "test_loss", "train_accuracy", "test_accuracy",
    ]  # fmt: skip
    assert table["epoch"].tolist() == [0, 1, 2, 3]
    assert table["train_loss"].tolist() == pytest.approx(trainer.history.train_loss)


def test_pytorch_replay_agrees_and_respects_the_step_budget():
    p = circle()
    setup = training.Setup((4, 4), "tanh", "rmsprop", 0.01, 16)
    replay = play.pytorch_replay(p, setup, 5)
    assert replay["epochs"] == 5 and replay["diff"] < 1e-12
    assert len(replay["ours"]) == len(replay["theirs"]) == 6
    tiny_batches = training.Setup((4,), "tanh", "sgd", 0.01, 1)  # 150 steps an epoch
    assert play.pytorch_replay(p, tiny_batches, 20)["epochs"] == play.CHECK_STEPS // 150


# --- verdicts: each held on one case and not on another, so that each check can fail ----------


def test_neuron_verdict():
    assert play.neuron_verdict((), ["x1", "x2"], True, 0.55).held
    assert play.neuron_verdict((), ["x1", "x2"], False, 0.55).held is None  # train to see
    assert play.neuron_verdict((), ["x1", "x2", "x1_x2"], True, 0.96).failed == "feature"
    unmet = play.neuron_verdict((4,), ["x1", "x2"], True, 0.99)
    assert not unmet.held and unmet.failed == "hidden" and not unmet.measured


def test_shapes_verdict():
    X, W, b = torch.zeros(5, 2), torch.zeros(2, 3), torch.zeros(3)
    assert play.shapes_verdict(5, [(X, W, b, X @ W + b)]).held
    assert not play.shapes_verdict(5, [(X, W, b, torch.zeros(5, 4))]).held


def test_collapse_verdict():
    assert play.collapse_verdict("identity", 3e-7, 2.0).held
    failed = play.collapse_verdict("tanh", 0.4, 2.0)
    assert not failed.held and failed.failed == "activation"


def test_bend_is_zero_off_the_kinks_of_straight_pieces_and_large_on_a_curve():
    x = torch.linspace(-2, 2, 401, dtype=torch.float64)
    kinked = torch.relu(x - 0.3) - 2 * torch.relu(-x - 1.1)  # kinks at 0.3 and -1.1
    kinks = torch.tensor([0.3, -1.1], dtype=torch.float64)
    assert play.bend(x, kinked, kinks) < 1e-9
    assert play.bend(x, kinked, kinks[:1]) > 1.0  # a kink left unexplained is a bend
    assert play.bend(x, torch.tanh(x), kinks[:0]) > 0.1
    assert play.pieces_verdict(True, "relu", 1e-9, 3).held
    assert play.pieces_verdict(True, "tanh", 0.5, 1).failed == "activation"
    assert play.pieces_verdict(False, "relu", 0.0, 1).failed == "data"


def test_softmax_verdict():
    probs = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    assert play.softmax_verdict("multiclass", probs, torch.tensor([0, 1, 2]), True).held
    assert not play.softmax_verdict("multiclass", probs, torch.tensor([1, 2, 0]), True).held
    assert play.softmax_verdict("multiclass", probs, torch.tensor([0, 1, 2]), False).held is None
    assert play.softmax_verdict("binary", probs[:, :2], torch.tensor([0, 1, 0]), True).failed == (
        "classes"
    )


def test_depth_verdict():
    assert play.depth_verdict((8, 8, 8), 0.0, True, 0.88, 0.48).held
    assert play.depth_verdict((8, 8, 8), 0.5, True, 0.51, 0.44).failed == "noise"
    assert play.depth_verdict((8, 8, 8), 0.0, True, 0.85, 0.8).failed == "claim"  # no gain
    assert play.depth_verdict((8,), 0.0, True, 0.5, 0.5).failed == "depth"
    assert play.depth_verdict((8, 8, 8), 0.0, False, 0.0, 0.0).held is None


def test_a_net_with_its_own_activation_per_layer_and_dropout_exports_and_checks():
    p = circle()
    setup = training.Setup((5, 4), "tanh", "adam", 0.01, 16, activations=("relu", "elu"),
                           dropout=(0.3, 0.1))  # fmt: skip
    trainer = training.Trainer(p.data, setup)
    trainer.run(2)
    code = play.sequential_code(trainer, "m.pt")
    assert code.index("nn.ReLU()") < code.index("nn.ELU(alpha=1.0)") and "Dropout" not in code
    namespace: dict = {}
    exec(code.replace('model.load_state_dict(torch.load("m.pt"))', ""), namespace)
    model = namespace["model"]
    model.load_state_dict(torch.load(io.BytesIO(play.state_dict_bytes(trainer))))
    with torch.no_grad():  # evaluation: no dropout on either side
        torch.testing.assert_close(model(p.data.X_test), trainer.output(p.data.X_test))
    doc = json.loads(play.weights_json(p, trainer))
    assert [a["name"] for a in doc["hidden_activations"]] == ["relu", "elu"]
    assert doc["dropout_in_training"] == [0.3, 0.1]
    X, T = trainer.X_train[:32], trainer.T_train[:32]
    ours = trainer.gradients(X, T)
    theirs = reference_training.gradients(trainer, X, T, trainer.net.masks)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    assert play.replay(p.data, setup, 3) == {"epochs": 0}  # torch would draw other masks
    assert play.activation_names(trainer.net) == "relu, elu"
    assert not play.piecewise_linear(trainer.net)


def test_dropout_verdict():
    assert play.dropout_verdict((0.0, 0.0), True, 0.1, 0.5).failed == "dropout"
    assert play.dropout_verdict((0.2,), False, 0.1, 0.5).held is None
    assert play.dropout_verdict((0.2,), True, 0.3, 0.5).held  # 0.6 of the gap without
    assert play.dropout_verdict((0.2,), True, 0.48, 0.5).failed == "claim"
    assert play.dropout_verdict((0.2,), True, 0.1, -0.05).failed == "overfit"


def test_a_paused_dropout_run_resumes_with_the_masks_of_an_uninterrupted_one():
    p = circle()
    setup = training.Setup((6,), "relu", "adam", 0.01, 16, dropout=(0.5,))
    straight = training.Trainer(p.data, setup)
    straight.run(4)
    paused = training.Trainer(p.data, setup)
    paused.run(2)
    buffer = io.BytesIO()
    torch.save(paused, buffer)  # what the engine does at a pause
    resumed = torch.load(io.BytesIO(buffer.getvalue()), weights_only=False)
    resumed.run(4)
    for a, b in zip(straight.flat_params, resumed.flat_params, strict=True):
        assert torch.equal(a, b)


def test_the_exports_record_each_live_change():
    p = circle()
    trainer = training.Trainer(p.data, training.Setup((4,), "tanh", "adam", 0.01, 16))
    trainer.run(1)
    trainer.apply({"lr": 0.1, "penalty": "l2", "lam": 0.001})
    trainer.run(2)
    trainer.apply({"param": (0, (1, 2), -0.5)})
    doc = json.loads(play.weights_json(p, trainer))
    assert [c["change"] for c in doc["live_changes"]] == ["η=0.1, L2, λ=0.001", "W1[2,3]=-0.5"]
    table = pd.read_csv(io.StringIO(play.history_csv(trainer)))
    changes = table.dropna(subset=["change"])
    assert changes["epoch"].tolist() == [1.0, 2.0] and changes["step"].tolist() == [10, 20]
    assert table["epoch"].tolist() == [0, 1, 1, 2, 2]  # each evaluation, then the change after it
