"""AppTest: the playground trained step by step in every mode, from URLs, and with uploads."""

from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
import pytest

from dlcore import activations, optim, training
from tests.app.conftest import check_rows, open_page
from ui import drawing, uploads
from ui import playground as play
from ui.engine import MIN_TICK_S, LiveRun, engine

PAGE = "pages/playground.py"


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def charts(at) -> set[str]:
    """Keys of the Plotly charts on the page (st.plotly_chart key=...)."""
    return {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}


def chart_keys(at) -> str:
    return " ".join(c.proto.id for c in at.get("plotly_chart"))


def progress(at) -> str:
    return at.get("progress")[0].proto.text


def step(at, times: int = 1):
    for _ in range(times):
        at.button(key="step").click().run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def verdict_of(at, words: str) -> str:
    """The text of the verdict element whose claim contains `words`."""
    return next(m.value for m in at.markdown if "-badge[" in m.value and words in m.value)


def all_checks_pass(at) -> bool:
    rows = check_rows(at)
    return bool(rows) and all(row["agrees"] == "✅" for row in rows)


def test_default_view_then_one_epoch_learns_and_matches_pytorch():
    at = open_page(PAGE)
    assert at.title[0].value == "Neural-network playground"
    assert at.selectbox(key="data").value == "circle"
    assert progress(at) == "Epoch 0 of 300"
    assert set(metrics(at)) == {"Train loss", "Test loss", "Train accuracy", "Test accuracy"}
    assert "chart_map" in chart_keys(at) and "chart_network" in chart_keys(at)
    before = float(metrics(at)["Train loss"])
    assert all_checks_pass(at)  # gradients vs autograd at the start

    step(at, 3)
    assert progress(at) == "Epoch 3 of 300"
    assert float(metrics(at)["Train loss"]) < before
    rows = check_rows(at)
    curve = next(r for r in rows if "loss curve" in r[next(iter(r))])
    assert "first 3 epochs" in curve[next(iter(curve))]
    assert all_checks_pass(at)
    assert "chart_replay" in chart_keys(at)


def epoch_of(at) -> int:
    return int(progress(at).split()[1])


def rerun_until(at, done, limit_s: float = 60.0):
    """Reruns (as the page's timer does in a browser) until done(at) holds."""
    deadline = time.monotonic() + limit_s
    while not done(at) and time.monotonic() < deadline:
        time.sleep(0.1)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    assert done(at), progress(at)
    return at


def test_train_in_a_worker_then_pause_and_resume():
    at = open_page(PAGE, epochs="5000")
    at.button(key="train").click().run()
    assert at.button(key="pause").label == "Pause"
    rerun_until(at, lambda a: epoch_of(a) > 0)  # the worker's reports reach the page
    at.button(key="pause").click().run()
    assert at.button(key="train").label == "Train"
    paused = epoch_of(at)
    at.run()
    assert epoch_of(at) == paused  # paused: nothing trains
    assert all_checks_pass(at)  # the trainer handed back matches PyTorch's replay
    at.button(key="train").click().run()
    rerun_until(at, lambda a: epoch_of(a) > paused)


def test_restart_goes_back_to_epoch_zero_with_the_same_start():
    at = open_page(PAGE)
    first = metrics(at)["Train loss"]
    step(at, 2)
    at.button(key="restart").click().run()
    assert progress(at) == "Epoch 0 of 300"
    assert metrics(at)["Train loss"] == first


def test_a_shape_setting_starts_a_new_run_and_a_live_one_does_not():
    at = open_page(PAGE)
    step(at)
    at.select_slider(key="lr").set_value(0.1).run()
    assert progress(at) == "Epoch 1 of 300"  # live: the same run goes on
    at.selectbox(key="act").set_value("relu").run()
    assert progress(at) == "Epoch 0 of 300"


def chart_spec(at, key: str) -> str:
    return next(c.proto.spec for c in at.get("plotly_chart") if c.proto.id.endswith(key))


def marks(at, key: str) -> list[str]:
    """The labels of the marks (annotations) on chart `key`."""
    return [a["text"] for a in json.loads(chart_spec(at, key))["layout"].get("annotations", [])]


def test_a_learning_rate_change_mid_run_keeps_training_and_marks_the_curves():
    at = open_page(PAGE, epochs="5000")
    at.button(key="train").click().run()
    rerun_until(at, lambda a: epoch_of(a) > 1)
    at.select_slider(key="lr").set_value(0.1).run()
    changed_at = epoch_of(at)
    assert changed_at > 1 and at.button(key="pause").label == "Pause"  # no restart
    rerun_until(at, lambda a: epoch_of(a) > changed_at + 1 and "η=0.1" in marks(a, "chart_loss"))
    assert "η=0.1" in marks(at, "chart_acc")
    at.button(key="pause").click().run()
    run = at.session_state["_run"]
    assert [c["change"] for c in run.job.changes] == [{"lr": 0.1}] and run.job.opt.lr == 0.1
    csv = play.history_csv(run.job)
    assert "η=0.1" in csv and ",change" in csv.splitlines()[0]
    assert all_checks_pass(at)  # the PyTorch replay stops at the change


def test_optimizer_hyper_parameter_and_penalty_change_in_place():
    at = open_page(PAGE, opt="momentum")
    step(at, 2)
    at.select_slider(key="momentum").set_value(0.5).run()
    at.selectbox(key="reg").set_value("l2").run()
    step(at)
    assert progress(at) == "Epoch 3 of 300"
    job = at.session_state["_run"].job
    assert job.opt.hyper["momentum"] == 0.5 and job.setup.penalty == "l2"
    assert marks(at, "chart_loss") == ["μ=0.5", "L2, λ=0.001"]
    assert all_checks_pass(at)


def test_a_tampered_hyper_parameter_in_the_url_falls_back_to_its_default():
    at = open_page(PAGE, opt="adam", beta1="7")
    assert at.select_slider(key="beta1").value == 0.9
    assert not at.exception


@pytest.mark.parametrize("name", ["xor", "blobs", "spiral", "moons", "plane", "hill"])
def test_every_2d_data_set_trains(name):
    at = open_page(PAGE, data=name)
    step(at)
    assert progress(at) == "Epoch 1 of 300"
    assert "chart_map" in chart_keys(at)
    assert all_checks_pass(at)


@pytest.mark.parametrize("name", ["sine", "abs", "step", "polynomial"])
def test_1d_regression_fits_a_curve_and_counts_relu_pieces(name):
    at = open_page(PAGE, data=name, act="relu")
    step(at, 2)
    assert "chart_fit" in chart_keys(at)
    assert set(metrics(at)) == {"Train loss", "Test loss", "Linear pieces"}
    assert int(metrics(at)["Linear pieces"]) >= 1
    at.selectbox(key="act").set_value("tanh").run()
    assert "Linear pieces" not in metrics(at)
    verdict = verdict_of(at, "piecewise-linear")
    assert "Did not hold here" in verdict and "tanh the fit bends everywhere" in verdict


def test_every_activation_and_optimizer_and_penalty():
    at = open_page(PAGE)
    for name in activations.NAMES:
        at.selectbox(key="act").set_value(name).run()
        step(at)
    for name in optim.NAMES:
        at.selectbox(key="opt").set_value(name).run()
        step(at)
    for penalty in ("l1", "l2"):
        at.selectbox(key="reg").set_value(penalty).run()
        at.select_slider(key="lam").set_value(0.3).run()
        step(at)
        assert all_checks_pass(at)


def test_extreme_networks():
    at = open_page(PAGE, layers="0")
    assert [s.key for s in at.slider if s.key.startswith("units")] == []
    step(at)
    at.slider(key="layers").set_value(6).run()
    for i in range(1, 7):
        at.slider(key=f"units{i}").set_value(16 if i % 2 else 1).run()
    at.select_slider(key="batch").set_value(1).run()
    at.select_slider(key="points").set_value(50).run()
    step(at)
    assert not at.exception
    assert all_checks_pass(at)
    at.select_slider(key="batch").set_value(2048).run()
    at.select_slider(key="points").set_value(2000).run()
    step(at)
    assert all_checks_pass(at)


@pytest.mark.parametrize("view", ["network", "units", "classes", "shapes", "linear"])
def test_every_view(view):
    at = open_page(PAGE, view=view, data="blobs", classes="4")
    step(at)
    keys = chart_keys(at)
    expected = {
        "network": ["chart_network"],
        "units": ["chart_units"],
        "classes": ["chart_confusion", "chart_probabilities"],
        "shapes": [],
        "linear": [],
    }[view]
    assert all(k in keys for k in expected)
    if view == "shapes":
        table = next(m.value for m in at.markdown if m.value.startswith("| Step"))
        assert "X (400×2) @ W1 (2×4) + b1 (4)" in table
        assert "(400×4)" in table  # the 4 class logits of every training row
    if view == "linear":
        assert any("Did not hold here" in m.value for m in at.markdown)
        at.button(key="use_identity").click().run()
        assert at.selectbox(key="act").value == "identity"
        gap = float(next(m.value for m in at.metric if m.label.startswith("Largest gap")))
        assert gap < 1e-4


def test_softmax_preset_and_confusion_counts_every_test_point():
    at = open_page(PAGE)
    at.button(key="preset_softmax").click().run()
    assert at.selectbox(key="data").value == "blobs"
    assert at.slider(key="classes").value == 4
    assert at.segmented_control(key="view").value == "classes"
    step(at, 2)
    assert "chart_confusion" in chart_keys(at)


def test_url_restores_the_view():
    at = open_page(
        PAGE, data="spiral", classes="3", layers="3", units2="9", act="relu", opt="sgd",
        lr="0.3", batch="8", reg="l2", lam="0.01", epochs="50", seed="42", view="units",
    )  # fmt: skip
    assert at.selectbox(key="data").value == "spiral"
    assert at.slider(key="classes").value == 3
    assert at.slider(key="layers").value == 3
    assert at.slider(key="units2").value == 9
    assert at.selectbox(key="act").value == "relu"
    assert at.selectbox(key="opt").value == "sgd"
    assert at.select_slider(key="lr").value == 0.3
    assert at.select_slider(key="batch").value == 8
    assert at.selectbox(key="reg").value == "l2"
    assert at.number_input(key="seed").value == 42
    assert at.segmented_control(key="view").value == "units"
    assert progress(at) == "Epoch 0 of 50"


def test_tampered_url_falls_back_to_defaults():
    at = open_page(
        PAGE, data="../../etc", layers="99", act="eval", lr="1e9", batch="-3", view="<b>",
        seed="abc", classes="1000", features="x3",
    )  # fmt: skip
    assert at.selectbox(key="data").value == "circle"
    assert at.slider(key="layers").value == 2
    assert at.selectbox(key="act").value == "tanh"
    assert at.select_slider(key="lr").value == 0.01
    assert at.segmented_control(key="view").value == "network"
    step(at)


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_huge_learning_rate_diverges_with_advice_and_stops(act):
    at = open_page(PAGE, data="sine", opt="sgd", lr="10.0", layers="3", act=act)
    assert at.select_slider(key="lr").value == 10.0
    for _ in range(5):
        if at.button(key="step").disabled:
            break
        step(at)
    errors = [e.value for e in at.error]
    assert errors and "diverged" in errors[0] and "Lower the learning rate" in errors[0]
    assert at.button(key="step").disabled and at.button(key="train").disabled
    assert metrics(at)["Train loss"] in ("NaN", "∞") or float(metrics(at)["Train loss"]) > 1e6
    assert "Linear pieces" not in metrics(at)  # a NaN curve has no pieces to count


def test_chinese_prose():
    at = open_page(PAGE, lang="zh")
    assert at.title[0].value == "神经网络训练场"
    step(at)


# --- uploads ------------------------------------------------------------------------------------


def upload(at, name: str, data: bytes):
    at.file_uploader(key="upload_file").set_value((name, data, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_uploaded_csv_with_three_text_classes_trains():
    at = open_page(PAGE, data="upload")
    assert "Upload a CSV" in at.info[0].value
    data = uploads.sample_path("blobs_3_classes.csv").read_bytes()
    upload(at, "blobs.csv", data)
    assert at.selectbox(key="upload_target").value == "label"
    assert at.multiselect(key="upload_features").value == ["x1", "x2"]
    assert any("3 classes: apple, banana" in c.value for c in at.caption)
    step(at, 2)
    assert progress(at) == "Epoch 2 of 300"
    assert "chart_map" in chart_keys(at)
    assert all_checks_pass(at)


def test_uploaded_regression_with_four_features_has_no_map_but_trains():
    at = open_page(PAGE, data="upload")
    upload(at, "housing.csv", uploads.sample_path("housing_small.csv").read_bytes())
    at.multiselect(key="upload_features").set_value(
        ["area_m2", "rooms", "age_years", "distance_km"]
    ).run()
    step(at)
    assert any("4 input columns" in i.value for i in at.info)
    assert set(metrics(at)) == {"Train loss", "Test loss"}
    assert all_checks_pass(at)


def test_uploaded_semicolons_and_decimal_commas_fit_a_1d_curve():
    at = open_page(PAGE, data="upload")
    data = uploads.sample_path("regression_semicolon_decimal_comma.csv").read_bytes()
    upload(at, "reg.csv", data)
    step(at)
    assert "chart_fit" in chart_keys(at)


@pytest.mark.parametrize(
    "name,data,expected",
    [
        ("pic.csv", b"\x89PNG\r\n\x1a\n" + bytes(100), "PNG image"),
        (
            "words.csv",
            b"a,b,c\nx,y,z\nu,v,w\n" * 10,
            "no column other than the target holds numbers",
        ),
        ("one.csv", b"x1,x2,label\n" + b"1,2,a\n" * 30, "only one class"),
        ("gaps.csv", b"x1,x2,y\n1,,0\n,2,1\n" + b",,\n" * 20, "missing"),
        ("big.csv", b"x,y\n" + b"1,2\n" * (uploads.MAX_ROWS + 5), "rows"),
        ("empty.csv", b"", "empty"),
    ],
)
def test_broken_uploads_get_a_precise_message(name, data, expected):
    at = open_page(PAGE, data="upload")
    upload(at, name, data)
    messages = " ".join(e.value for e in at.error).lower()
    assert expected.lower() in messages, messages
    assert not at.get("progress")  # nothing to train on, and nothing crashed


def test_data_controls_features_and_reset():
    at = open_page(PAGE, view="shapes")
    first = metrics(at)["Train loss"]
    at.button(key="regenerate").click().run()
    assert at.number_input(key="seed").value == 1
    assert metrics(at)["Train loss"] != first  # new data, new start
    at.slider(key="noise").set_value(0.0).run()
    at.slider(key="test").set_value(50).run()
    at.select_slider(key="epochs").set_value(10).run()
    at.multiselect(key="features").set_value(
        ["x₁", "x₂", "x₁²", "x₂²", "x₁·x₂", "sin x₁", "sin x₂"]
    )
    at.run()
    table = next(m.value for m in at.markdown if m.value.startswith("| Step"))
    assert "X (250×7) @ W1 (7×4)" in table  # half of 500 points held out, seven features
    assert progress(at) == "Epoch 0 of 10"
    at.multiselect(key="features").set_value([]).run()
    assert any("the net sees x₁ and x₂" in c.value for c in at.caption)
    step(at)
    at.button(key="frame_reset").click().run()
    assert at.number_input(key="seed").value == 0 and at.slider(key="noise").value == 0.5
    assert at.segmented_control(key="view").value == "network"
    assert metrics(at)["Train loss"] == first  # the default experiment, exactly as before


def test_upload_task_override_turns_numeric_classes_into_regression():
    at = open_page(PAGE, data="upload")
    rows = "\n".join(f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(60))
    upload(at, "numbers.csv", ("a,b,label\n" + rows).encode())
    assert any("2 classes" in c.value for c in at.caption)
    at.segmented_control(key="upload_task").set_value("regression").run()
    assert any("regression of label" in c.value for c in at.caption)
    step(at)
    assert set(metrics(at)) == {"Train loss", "Test loss"}


CLAIMS = {  # each claim button and some of what it must set (pages/playground.py PRESETS)
    "neuron": {"data": "xor", "layers": 0},
    "layers": {"view": "shapes"},
    "linear": {"act": "identity", "layers": 3, "view": "linear"},
    "pieces": {"data": "sine", "noise": 0.1, "act": "relu", "units1": 8},
    "softmax": {"data": "blobs", "classes": 4, "view": "classes"},
    "spiral": {"data": "spiral", "noise": 0.0, "layers": 3, "units3": 8},
    "dropout": {"data": "circle", "points": 100, "noise": 1.0, "layers": 3, "drop3": 0.2},
}
# The words of each claim's verdict element (ui/content/en/playground.toml verdict_<claim>).
CLAIM_WORDS = {
    "neuron": "One neuron cannot separate XOR",
    "layers": "Each layer computes",
    "linear": "collapse to one linear map",
    "pieces": "piecewise-linear function",
    "softmax": "scores into class probabilities",
    "spiral": "A spiral needs depth",
    "dropout": "Dropout narrows the gap",
}


@pytest.mark.parametrize("name", CLAIMS)
def test_every_claim_button_sets_up_its_experiment(name):
    at = open_page(PAGE, opt="sgd")
    at.button(key=f"preset_{name}").click().run()
    values = {w.key: w.value for w in at.main if getattr(w, "key", None) in CLAIMS[name]}
    assert values == CLAIMS[name]
    assert at.selectbox(key="opt").value == "adam"  # everything else back to its default
    step(at)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", CLAIMS)
def test_every_claim_preset_shows_its_claim(name: str, seed: int):
    """Each preset trained to its last epoch: its verdict, computed from the run, says held."""
    at = open_page(PAGE)
    at.button(key=f"preset_{name}").click().run()
    at.number_input(key="seed").set_value(seed).run()
    if name in ("neuron", "softmax", "spiral", "dropout"):  # judged from a finished run
        assert "Train to see" in verdict_of(at, CLAIM_WORDS[name])
        at.button(key="train").click().run()
        rerun_until(at, lambda a: "Train to see" not in verdict_of(a, CLAIM_WORDS[name]))
    assert "Held" in verdict_of(at, CLAIM_WORDS[name]), verdict_of(at, CLAIM_WORDS[name])


def test_a_claim_whose_condition_fails_says_which_and_what_to_change():
    at = open_page(PAGE)
    at.button(key="preset_spiral").click().run()
    at.slider(key="noise").set_value(0.5).run()
    at.button(key="train").click().run()
    rerun_until(at, lambda a: "Train to see" not in verdict_of(a, "A spiral needs depth"))
    verdict = verdict_of(at, "A spiral needs depth")
    assert "Did not hold here" in verdict and "lower **Noise** to 0" in verdict
    at.slider(key="layers").set_value(1).run()
    verdict = verdict_of(at, "A spiral needs depth")
    assert "set **Hidden layers** to 3" in verdict and "test accuracy" not in verdict


def test_a_killed_worker_is_replaced_and_the_learner_told_what_to_do():
    at = open_page(PAGE, epochs="5000")
    at.button(key="train").click().run()
    rerun_until(at, lambda a: epoch_of(a) > 0)
    for worker in engine()._workers:  # as the kernel's out-of-memory killer would
        os.kill(worker.process.pid, signal.SIGKILL)
    rerun_until(
        at, lambda a: any("training process that held this run" in w.value for w in a.warning)
    )
    assert at.button(key="train").disabled and epoch_of(at) > 0  # its last report stays
    at.button(key="restart").click().run()
    at.button(key="train").click().run()
    rerun_until(at, lambda a: epoch_of(a) > 0)  # a new worker trains the next run
    at.button(key="pause").click().run()


def test_a_queued_run_shows_its_place_and_starts_by_itself(monkeypatch):
    e = engine()
    room = e.settings.capacity - e.load()["running"]
    others = [LiveRun(i, make_trainer(i), ("others", i)) for i in range(room)]
    for run in others:  # every slot taken by other learners' long runs
        run.start(e, 10**9)
    try:
        at = open_page(PAGE, epochs="5000")
        at.button(key="train").click().run()
        info = " ".join(i.value for i in at.info)
        assert "number 1 in line" in info, info
        others[0].drop(e)
        rerun_until(at, lambda a: epoch_of(a) > 0)
        assert not any("in line" in i.value for i in at.info)
        at.button(key="pause").click().run()
    finally:
        for run in others:
            run.drop(e)


def make_trainer(seed: int) -> training.Trainer:
    problem = play.generated("circle", 200, 0.1, seed, 0.2, [], 2)
    return training.Trainer(problem.data, training.Setup((8,), "tanh", "adam", 0.01, 1, seed=seed))


def map_side(at) -> int:
    """Cells per side of the decision map's grid, as sent to the browser."""
    spec = next(c.proto.spec for c in at.get("plotly_chart") if c.proto.id.endswith("chart_map"))
    z = next(t["z"] for t in json.loads(spec)["data"] if "z" in t)
    return int(z["shape"].split(",")[0]) if isinstance(z, dict) else len(z)


def test_a_busy_server_redraws_less_often_with_less_detail_and_says_so():
    """Issue 8: the redraw rate and the payload per update follow the number of trainers."""
    e = engine()
    others = [LiveRun(i, make_trainer(i), ("busy", i)) for i in range(2)]
    try:
        at = open_page(PAGE, epochs="5000")
        full = map_side(at)
        for run in others:  # two other learners train: three runs share the redraws
            run.start(e, 10**9)
        at.button(key="train").click().run()
        rerun_until(at, lambda a: epoch_of(a) > 0)
        assert e.tick_s() > 3 * MIN_TICK_S  # redraws less often
        assert map_side(at) ** 2 < full**2 / 2  # fewer than half the cells per update
        assert any("with less detail" in c.value for c in at.caption)
        at.button(key="pause").click().run()  # paused, the map has its full detail again
        assert map_side(at) == full
        assert not any("with less detail" in c.value for c in at.caption)
    finally:
        for run in others:
            run.drop(e)


# --- a note above the header (issue 9) ------------------------------------------------------------


def noted_csv(rows: int = 90) -> bytes:
    """scikit-learn's shape (wine_data.csv): a "rows,features,class names" note above the header."""
    lines = [f"{rows},5,class_0,class_1,class_2", "f0,f1,f2,f3,f4,target"]
    lines += [f"{i % 3 + 0.1 * (i % 7):.1f},{(i * 5) % 11},{i % 4},{i % 9},{i % 5},class_{i % 3}"
              for i in range(rows)]  # fmt: skip
    return ("\n".join(lines) + "\n").encode()


def skip_control(at):
    return next(w for w in at.number_input if str(w.key).startswith("upload_skip_"))


def test_a_note_above_the_header_is_skipped_with_a_preview_and_trains():
    at = upload(open_page(PAGE, data="upload"), "wine_data.csv", noted_csv())
    assert any("The first 1 line(s)" in i.value for i in at.info)
    assert skip_control(at).value == 1
    preview = at.dataframe[0].value
    assert list(preview.columns) == ["f0", "f1", "f2", "f3", "f4", "target"]
    assert len(preview) == 5
    assert at.selectbox(key="upload_target").value == "target"
    assert any("3 classes: class_0, class_1, class_2" in c.value for c in at.caption)
    step(at)
    assert progress(at) == "Epoch 1 of 300"
    skip_control(at).set_value(0).run()  # read as it is, the note is the header: refused
    assert "Line 2 has 6 values, but the first row has 5" in at.error[0].value
    assert not at.get("progress")


def test_a_finished_run_goes_on_when_epochs_are_raised():
    at = open_page(PAGE, epochs="10")
    at.button(key="train").click().run()
    rerun_until(at, lambda a: progress(a) == "Epoch 10 of 10" and a.button(key="train"))
    assert at.button(key="train").disabled  # at its target: nothing to train
    at.select_slider(key="epochs").set_value(20).run()
    at.button(key="train").click().run()
    rerun_until(at, lambda a: progress(a) == "Epoch 20 of 20")


def drawn_pair(n: int = 6) -> np.ndarray:
    """Two classes of n points each, in opposite corners of the board."""
    first = [[5 + i, 5 + (3 * i) % 7, 0] for i in range(n)]
    second = [[30 - i, 30 - (3 * i) % 7, 1] for i in range(n)]
    return np.array(first + second, np.int16)


def test_a_drawn_set_from_a_link_trains_like_any_other():
    code = drawing.encode(drawn_pair(), "classes")
    at = open_page(PAGE, data="draw", drawn=code)
    assert at.text_input(key="drawn").value == code
    assert "board_" in chart_keys(at)
    step(at, 2)
    assert progress(at) == "Epoch 2 of 300"
    assert "chart_map" in chart_keys(at) and all_checks_pass(at)
    assert at.session_state["_run"].job.X_train.shape[0] == 10  # 12 drawn, 2 to the test split


def test_the_board_says_what_is_missing_and_a_tampered_link_starts_empty():
    at = open_page(PAGE, data="draw")
    assert any("0 points so far" in i.value for i in at.info)
    one_class = drawn_pair()[:6]
    at = open_page(PAGE, data="draw", drawn=drawing.encode(one_class, "classes"))
    assert any("one class" in i.value for i in at.info)
    at = open_page(PAGE, data="draw", drawn="c" + "A" * 40)
    assert any("could not be read" in w.value for w in at.warning)
    assert any("0 points so far" in i.value for i in at.info)


def test_clear_and_undo_and_a_drawing_too_big_for_a_link():
    at = open_page(PAGE, data="draw")
    rng = np.random.default_rng(0)
    big = np.column_stack([rng.integers(0, drawing.GRID, (250, 2)), rng.integers(0, 2, 250)])
    at.session_state["_drawn"] = {"task": "classes", "points": big.astype(np.int16)}
    at.run()
    assert any("at most 200" in c.value for c in at.caption)
    assert at.text_input(key="drawn").value == ""  # the link leaves it out
    step(at)
    assert progress(at) == "Epoch 1 of 300"
    at.button(key="draw_clear").click().run()
    assert any("0 points so far" in i.value for i in at.info)
    at.button(key="draw_undo").click().run()
    assert at.session_state["_drawn"]["points"].shape == (250, 3)
    assert progress(at) == "Epoch 1 of 300"  # the same points again: the run on them goes on


def test_drawn_regression_values_train():
    values = drawn_pair()
    values[:, 2] = np.arange(12) - 6
    at = open_page(PAGE, data="draw", draw_task="regression",
                   drawn=drawing.encode(values, "regression"))  # fmt: skip
    assert at.slider(key="draw_value").value == 0.5
    step(at)
    assert progress(at) == "Epoch 1 of 300" and at.session_state["_run"].job.task == "regression"


def test_a_weight_edit_shows_in_the_net_and_on_the_curves_and_the_run_goes_on():
    at = open_page(PAGE)
    step(at)
    at.selectbox(key="edit_link").set_value("2:1:3").run()  # W2: L1·2 -> L2·4
    at.number_input(key="edit_value").set_value(2.5).run()
    network = json.loads(chart_spec(at, "chart_network"))["data"]
    at.button(key="edit_set").click().run()
    assert any(c.value.startswith("W2[2,4] is now 2.5000") for c in at.caption)
    assert at.session_state["_run"].job.net.params[1][0][1, 3].item() == 2.5
    assert marks(at, "chart_loss") == ["W2[2,4]=2.5"]
    assert json.loads(chart_spec(at, "chart_network"))["data"] != network  # the link redrawn
    step(at)
    assert progress(at) == "Epoch 2 of 300"  # from the edited net, not a new run


def test_a_weight_edit_reaches_a_run_that_trains_in_a_worker():
    at = open_page(PAGE, epochs="5000", batch="1", points="1000")
    at.button(key="train").click().run()
    rerun_until(at, lambda a: epoch_of(a) > 0)
    at.selectbox(key="edit_link").set_value("1:0").run()  # b1 of the first unit
    at.number_input(key="edit_value").set_value(-3.0).run()
    at.button(key="edit_set").click().run()
    rerun_until(at, lambda a: "b1[1]=-3" in marks(a, "chart_loss"))
    at.button(key="pause").click().run()
    job = at.session_state["_run"].job
    assert job.changes[0]["change"] == {"param": (1, (0,), -3.0)} and job.epoch > 0


def test_each_layer_its_own_activation_and_dropout_in_the_views_and_checks():
    at = open_page(PAGE, act2="relu", drop1="0.3", view="shapes")
    table = next(m.value for m in at.markdown if m.value.startswith("| Step"))
    assert "Activation tanh, then dropout p = 0.3" in table and "| Activation relu |" in table
    step(at)
    assert all_checks_pass(at)  # our gradients through this step's masks vs autograd
    assert any("replay in PyTorch covers nets without dropout" in c.value for c in at.caption)
    at.segmented_control(key="view").set_value("network").run()
    assert any(c.value == "Hidden layers: L1 tanh (dropout 0.3) · L2 relu" for c in at.caption)
    at.selectbox(key="act1").set_value("elu").run()
    assert progress(at) == "Epoch 0 of 300"  # the net's make-up: a new run


def test_tampered_per_layer_values_fall_back_to_their_defaults():
    at = open_page(PAGE, act1="softmax", drop2="0.9")
    assert at.selectbox(key="act1").value == "same" and at.select_slider(key="drop2").value == 0.0
    assert not at.session_state["_run"].job.setup.dropout


def test_the_depth_twin_takes_the_first_layers_own_activation_and_dropout():
    at = open_page(PAGE, data="spiral", layers="3", act1="relu", drop1="0.2")
    shallow = at.session_state["_baseline"].job.setup
    assert shallow.hidden == (4,) and shallow.activations == ("relu",)
    assert shallow.dropout == (0.2,)
    step(at)
