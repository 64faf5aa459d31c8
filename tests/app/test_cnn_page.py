"""AppTest: the CNN lab in every view, every control, from URLs good and bad, with uploads."""

from __future__ import annotations

import io
import os
import signal
import time

import numpy as np
import pytest
from PIL import Image

from tests.app.conftest import check_rows, open_page, verdict
from ui import cnn, uploads
from ui.engine import LiveRun, engine

PAGE = "pages/cnn.py"


def ok(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts(at) -> set[str]:
    """Keys of the Plotly charts on the page (st.plotly_chart key=...)."""
    return {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}


def all_checks_pass(at) -> bool:
    rows = check_rows(at)
    return bool(rows) and all(row["agrees"] == "✅" for row in rows)


def progress(at) -> str:
    return at.get("progress")[0].proto.text


def rerun_until(at, done, limit_s: float = 90.0):
    """Reruns (as the page's timer does in a browser) until done(at) holds."""
    deadline = time.monotonic() + limit_s
    while not done(at) and time.monotonic() < deadline:
        time.sleep(0.1)
        ok(at.run())
    assert done(at), [p.proto.text for p in at.get("progress")]
    return at


def png(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def a_one() -> bytes:
    """A photo of a handwritten 1: a dark vertical stroke on white paper."""
    paper = np.full((100, 60), 255, np.uint8)
    paper[15:85, 26:36] = 20
    return png(Image.fromarray(paper, "L"))


# --- filters --------------------------------------------------------------------------------------


def test_default_view_filters_a_photo_and_both_claims_hold():
    at = open_page(PAGE)
    assert at.title[0].value == "CNN lab: filters, feature maps, pooling"
    assert at.segmented_control(key="view").value == "filters"
    assert at.multiselect(key="filters").value == ["sobel_x", "sobel_y", "laplacian", "sharpen"]
    assert {"chart_input", "chart_kernels", "chart_before", "chart_after"} <= charts(at)
    formula = at.get("latex")[0].value
    assert "= 85" in formula and "= 128" in formula  # the 427x640 photo at 128 a side, padding 1
    assert "Held" in verdict(at, "slide") and "85×128" in verdict(at, "slide")
    assert "Held" in verdict(at, "many") and "4 filters gave 4 maps" in verdict(at, "many")
    assert all_checks_pass(at)
    assert any("Filters: **CPU**" in c.value for c in at.caption)


def test_stride_padding_dilation_change_the_formula_and_the_maps():
    at = open_page(PAGE)
    at.slider(key="stride").set_value(2).run()
    at.slider(key="padding").set_value(0).run()
    at.slider(key="dilation").set_value(3).run()
    ok(at)
    formula = at.get("latex")[0].value
    # (85 + 0 - 3*2 - 1) // 2 + 1 = 40, (128 - 7) // 2 + 1 = 61
    assert "= 40" in formula and "= 61" in formula
    assert "40×61" in verdict(at, "slide") and "Held" in verdict(at, "slide")
    at.slider(key="padding").set_value(3).run()
    at.slider(key="stride").set_value(4).run()
    assert "Held" in verdict(ok(at), "slide")


@pytest.mark.parametrize("source", [s for s in cnn.SOURCES if s != cnn.UPLOAD])
def test_every_built_in_image_and_size(source):
    at = open_page(PAGE, image=source, side="48")
    assert at.selectbox(key="image").value == source
    assert "Held" in verdict(ok(at), "slide")
    at.select_slider(key="side").set_value(256).run()
    assert "Held" in verdict(ok(at), "many")


def test_every_preset_filter_one_at_a_time_and_the_custom_grid():
    at = open_page(PAGE, side="48")
    for name in cnn.KERNELS:
        at.multiselect(key="filters").set_value([name]).run()
        assert "Held" in verdict(ok(at), "slide")
        assert "choose two or more filters" in verdict(at, "many")  # one filter: unmet
    at.multiselect(key="filters").set_value(["box_blur", "gaussian"]).run()
    assert "no response was negative" in verdict(ok(at), "many").lower()
    at.multiselect(key="filters").set_value(["sobel_x", "custom"]).run()
    assert [at.number_input(key=f"k{i}").value for i in range(9)] == [0, 1, 2, -1, 0, 1, -2, -1, 0]
    at.selectbox(key="fill").set_value("laplacian").run()
    at.button(key="fill_grid").click().run()
    assert [at.number_input(key=f"k{i}").value for i in range(9)] == [0, 1, 0, 1, -4, 1, 0, 1, 0]
    at.number_input(key="k4").set_value(100.0).run()
    assert "Held" in verdict(ok(at), "many")
    at.multiselect(key="filters").set_value([]).run()
    assert any("at least one filter" in i.value for i in ok(at).info)


# --- composition and pooling ---------------------------------------------------------------------


def test_composition_agrees_without_relu_and_breaks_with_it():
    at = open_page(PAGE, view="compose", side="64")
    assert {"chart_two_kernels", "chart_composed", "chart_compose"} <= charts(at)
    assert "Held" in verdict(at, "compose")
    assert all_checks_pass(at)
    for k1, k2 in (("sharpen", "emboss"), ("edge", "box_blur")):
        at.selectbox(key="k1").set_value(k1).run()
        at.selectbox(key="k2").set_value(k2).run()
        assert "Held" in verdict(ok(at), "compose")
    at.selectbox(key="k1").set_value("sobel_x").run()
    at.toggle(key="relu_between").set_value(True).run()
    text = verdict(ok(at), "compose")
    assert "Did not hold here" in text and "Turn **ReLU between them** off" in text
    assert all_checks_pass(at)  # ours with a ReLU still equals F.conv2d, ReLU, F.conv2d


def test_pooling_shrinks_and_steadies_the_features():
    at = open_page(PAGE, view="pool")
    assert {"chart_pool_in", "chart_pool_out", "chart_shift"} <= charts(at)
    assert any("85×128 → 42×64" in c.value for c in at.caption)
    assert "Held" in verdict(at, "pool")
    metrics = {m.label: float(m.value) for m in at.metric}
    assert metrics["Change after pooling, shift 1"] < metrics["Change before pooling, shift 1"]
    at.segmented_control(key="pool_kind").set_value("avg").run()
    at.slider(key="window").set_value(3).run()
    assert any("overlapping windows" in c.value for c in ok(at).caption)
    assert "Held" in verdict(at, "pool") and all_checks_pass(at)
    at.slider(key="window").set_value(1).run()
    at.slider(key="pool_stride").set_value(1).run()
    assert "nothing is pooled" in verdict(ok(at), "pool")
    at.slider(key="shift").set_value(0).run()
    assert "Did not hold here" in verdict(ok(at), "pool")
    at.selectbox(key="pool_filter").set_value("laplacian").run()
    at.slider(key="window").set_value(4).run()
    at.slider(key="shift").set_value(4).run()
    ok(at)


# --- shapes --------------------------------------------------------------------------------------


def table(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("| Layer"))


def test_shapes_and_parameter_counts_as_stages_are_added_and_removed():
    at = open_page(PAGE, view="shapes")
    rows = table(at)
    assert "| conv1 + ReLU | 8×16×16 | 80 |" in rows and "| max pool2 | 16×4×4 | 0 |" in rows
    assert "| linear | 10 | 2,570 |" in rows and "**3,818**" in rows  # 80 + 1,168 + 2,570
    assert "Held" in verdict(at, "depth")
    assert all_checks_pass(at)  # the net's output equals its torch.nn twin's
    at.slider(key="stages").set_value(4).run()
    assert "| max pool4 | 64×1×1 |" in table(ok(at)) and "Held" in verdict(at, "depth")
    at.slider(key="stages").set_value(1).run()
    assert "add a second stage" in verdict(ok(at), "depth")
    at.slider(key="stages").set_value(2).run()
    at.select_slider(key="ch2").set_value(8).run()
    assert "more feature maps than the one before" in verdict(ok(at), "depth")
    at.segmented_control(key="kernel").set_value(5).run()
    at.segmented_control(key="cnn_pool").set_value("avg").run()
    assert "avg pool1" in table(ok(at))
    at.slider(key="stages").set_value(4).run()
    at.segmented_control(key="cnn_window").set_value(3).run()
    at.segmented_control(key="cnn_stride").set_value(3).run()
    assert "shrink the 16×16 digit to nothing" in ok(at).error[0].value


# --- training -------------------------------------------------------------------------------------


def metric(at, label: str) -> float:
    return float(next(m.value for m in at.metric if m.label == label).rstrip("%"))


def test_one_epoch_learns_and_matches_pytorch_then_exports():
    at = open_page(PAGE, view="train")
    assert progress(at) == "Epoch 0 of 10"
    assert "Train to see" in verdict(at, "learn")
    assert any("upsampled to 16×16 by bilinear" in c.value for c in at.caption)
    before = metric(at, "Test accuracy")
    at.button(key="step").click().run()
    assert progress(ok(at)) == "Epoch 1 of 10"
    assert metric(at, "Test accuracy") > max(before, 70)
    assert {"chart_loss", "chart_acc", "chart_filters", "chart_sample", "chart_stage1",
            "chart_stage2", "chart_confusion"} <= charts(at)  # fmt: skip
    assert all_checks_pass(at)
    labels = " ".join(next(iter(r.values())) for r in check_rows(at))
    assert "autograd" in labels and "torch.nn + torch.optim" in labels
    keys = {b.proto.id.rsplit("-", 1)[-1] for b in at.get("download_button")}
    assert {"export_json", "export_state_dict", "export_history"} <= keys
    assert any("nn.Conv2d(1, 8, 3, padding=1)" in c.value for c in at.code)
    at.button(key="restart").click().run()
    assert progress(ok(at)) == "Epoch 0 of 10"


def test_the_learn_claim_trained_in_a_worker_holds():
    at = open_page(PAGE)
    at.button(key="preset_learn").click().run()
    assert at.segmented_control(key="view").value == "train"
    at.button(key="train").click().run()
    assert at.button(key="pause").label == "Pause"
    rerun_until(at, lambda a: "Train to see" not in verdict(a, "learn"))
    assert "Held" in verdict(at, "learn"), verdict(at, "learn")
    assert progress(at) == "Epoch 10 of 10" and at.button(key="train").disabled
    assert any("Trained for 10 epochs" in s.value for s in at.success)


def test_pause_and_resume_and_a_changed_setting_starts_anew():
    at = open_page(PAGE, view="train", epochs="50", batch="8")
    at.button(key="train").click().run()
    rerun_until(at, lambda a: int(progress(a).split()[1]) > 0)
    at.button(key="pause").click().run()
    paused = int(progress(ok(at)).split()[1])
    at.run()
    assert int(progress(at).split()[1]) == paused and at.button(key="train").label == "Train"
    at.select_slider(key="lr").set_value(0.01).run()
    assert progress(ok(at)) == "Epoch 0 of 50"


def test_a_killed_worker_is_reported_and_restart_trains_again():
    at = open_page(PAGE, view="train", epochs="50", batch="8")
    at.button(key="train").click().run()
    rerun_until(at, lambda a: int(progress(a).split()[1]) > 0)
    for worker in engine()._workers:  # as the kernel's out-of-memory killer would
        os.kill(worker.process.pid, signal.SIGKILL)
    rerun_until(
        at, lambda a: any("training process that held this run" in w.value for w in a.warning)
    )
    assert at.button(key="train").disabled
    at.button(key="restart").click().run()
    assert progress(ok(at)) == "Epoch 0 of 50"


def test_a_queued_run_shows_its_place():
    e = engine()
    room = e.settings.capacity - e.load()["running"]
    setup = cnn.training.Setup((), "relu", "adam", 0.003, 8)
    others = [LiveRun(i, cnn.trainer(cnn.Arch((2, 4)), setup), ("others", i)) for i in range(room)]
    for run in others:  # every slot taken by other learners' long runs
        run.start(e, 10**9)
    try:
        at = open_page(PAGE, view="train", epochs="50")
        at.button(key="train").click().run()
        assert "number 1 in line" in " ".join(i.value for i in ok(at).info)
        others[0].drop(e)
        rerun_until(at, lambda a: int(progress(a).split()[1]) > 0)
        at.button(key="pause").click().run()
    finally:
        for run in others:
            run.drop(e)


# --- the learner's digit -------------------------------------------------------------------------


def test_a_test_digit_on_the_pad_is_read_and_a_drawn_one_too():
    at = open_page(PAGE, view="train")
    assert any("The pad is empty" in i.value for i in at.info)
    at.button(key="step").click().run()
    at.slider(key="sample").set_value(3).run()
    at.button(key="pad_copy").click().run()
    label = int(cnn.digits(0).y_test[3])
    assert any(f"The net reads **{label}**" in m.value for m in ok(at).markdown)
    assert "chart_probs" in charts(at)
    at.button(key="pad_clear").click().run()
    assert any("The pad is empty" in i.value for i in ok(at).info)
    drawn = np.zeros((8, 8), np.float32)
    drawn[1:7, 3:5] = 1.0  # what tapping a column of cells leaves on the pad
    at.session_state["_digit"] = drawn
    assert any("The net reads **" in m.value for m in ok(at.run()).markdown)


def test_an_uploaded_digit_lands_on_the_pad_and_bad_files_are_refused():
    at = open_page(PAGE, view="train")
    at.button(key="step").click().run()
    at.file_uploader(key="digit_file").set_value(("one.png", a_one(), "image/png")).run()
    assert any("Your 60×100 picture" in c.value for c in ok(at).caption)
    assert at.session_state["_digit"][:, 3].min() > 0.5  # the stroke, on the pad
    assert any("The net reads **1**" in m.value for m in at.markdown)
    at.file_uploader(key="digit_file").set_value(("x.png", a_one()[:80], "image/png")).run()
    assert "damaged or cut short" in ok(at).error[0].value


# --- the pooling claim ----------------------------------------------------------------------------


def test_the_pooling_claim_reduced_is_judged_held():
    """The claim's preset (three seeds, ten epochs) reduced to two seeds and three epochs."""
    at = open_page(PAGE)
    at.button(key="preset_overlap").click().run()
    assert at.segmented_control(key="view").value == "sweep"
    assert at.slider(key="seeds").value == 3 and at.select_slider(key="sweep_epochs").value == 10
    at.slider(key="seeds").set_value(2).run()
    at.select_slider(key="sweep_epochs").set_value(3).run()
    assert "Train to see" in verdict(ok(at), "overlap")
    at.button(key="sweep_train").click().run()
    rerun_until(at, lambda a: "Train to see" not in verdict(a, "overlap"), 120)
    text = verdict(at, "overlap")
    assert "Held" in text and "Mean test accuracy over 2 seeds" in text, text
    assert "chart_sweep" in charts(at)
    assert any(m.value.startswith("| Pooling | Mean") for m in at.markdown)
    assert "export_sweep" in {b.proto.id.rsplit("-", 1)[-1] for b in at.get("download_button")}


# --- uploads, URLs, presets, language -----------------------------------------------------------


def upload_image(at, name: str, data: bytes, mime: str = "image/png"):
    return ok(at.file_uploader(key="image_file").set_value((name, data, mime)).run())


def test_an_uploaded_photo_is_filtered_with_its_size_shown():
    at = open_page(PAGE, image="upload")
    assert any("Upload a PNG or JPEG" in i.value for i in at.info)
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 255, (300, 500, 3), dtype=np.uint8), "RGB")
    upload_image(at, "me.jpg", png(photo, "JPEG"), "image/jpeg")
    assert any("JPEG, colour (RGB): 500×300 pixels as uploaded, 256×154" in c.value
               for c in at.caption)  # fmt: skip
    assert "Held" in verdict(at, "slide") and "77×128" in verdict(at, "slide")
    at.segmented_control(key="view").set_value("pool").run()
    assert "Held" in verdict(ok(at), "pool")  # the same upload, pooled


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("table.csv", b"x,y\n1,2\n", "not an image that can be read"),
        ("cut.png", None, "damaged or cut short"),
        ("huge.png", b"\x89PNG" + b"\0" * (uploads.IMAGE_MAX_BYTES + 1), "the limit is 10 MB"),
        ("anim.png", "animated", "animated image (2 frames)"),
        ("old.gif", "gif", "this page reads PNG and JPEG only"),
        ("empty.png", b"", "The file is empty"),
    ],
)
def test_broken_image_uploads_get_a_precise_message(name, data, expected):
    rng = np.random.default_rng(1)
    picture = Image.fromarray(rng.integers(0, 255, (80, 80, 3), dtype=np.uint8), "RGB")
    if data is None:
        data = png(picture)[:500]
    elif data == "animated":
        data = png(picture, save_all=True, append_images=[Image.new("RGB", (80, 80))])
    elif data == "gif":
        data = png(picture, "GIF")
    at = upload_image(open_page(PAGE, image="upload"), name, data)
    messages = " ".join(e.value for e in at.error)
    assert expected in messages, messages
    assert "chart_before" not in charts(at)


def test_the_url_restores_the_view():
    at = open_page(PAGE, view="pool", image="circles", side="96", pool_kind="avg", window="3",
                   pool_stride="1", shift="2", pool_filter="edge")  # fmt: skip
    assert at.segmented_control(key="view").value == "pool"
    assert at.selectbox(key="image").value == "circles"
    assert at.select_slider(key="side").value == 96
    assert at.segmented_control(key="pool_kind").value == "avg"
    assert (at.slider(key="window").value, at.slider(key="pool_stride").value) == (3, 1)
    assert at.slider(key="shift").value == 2 and at.selectbox(key="pool_filter").value == "edge"
    at = open_page(PAGE, filters=["emboss", "custom"], k0="3", stride="2")
    assert at.multiselect(key="filters").value == ["emboss", "custom"]
    assert at.number_input(key="k0").value == 3 and at.slider(key="stride").value == 2
    at = open_page(PAGE, view="shapes", stages="3", ch3="64", kernel="5")
    assert "| conv3 + ReLU | 64×4×4 |" in table(at)


def test_tampered_url_values_fall_back_to_defaults():
    at = open_page(PAGE, view="<script>", image="../../etc/passwd", side="1000000", stride="99",
                   filters=["nope"], k0="1e999", lang="xx")  # fmt: skip
    ok(at)
    assert at.segmented_control(key="view").value == "filters"
    assert at.selectbox(key="image").value == "china"
    assert at.select_slider(key="side").value == 128 and at.slider(key="stride").value == 1
    assert at.title[0].value == "CNN lab: filters, feature maps, pooling"
    at = open_page(PAGE, view="train", stages="9", ch1="7", epochs="-1", seed="abc", opt="evil")
    assert at.slider(key="stages").value == 2 and at.select_slider(key="epochs").value == 10
    assert at.selectbox(key="opt").value == "adam" and progress(ok(at)) == "Epoch 0 of 10"


PRESET_VALUES = {
    "slide": {"view": "filters", "filters": ["sobel_x"], "stride": 2, "padding": 0},
    "many": {"view": "filters"},
    "compose": {"view": "compose"},
    "pool": {"view": "pool"},
    "overlap": {"view": "sweep"},
    "depth": {"view": "shapes", "stages": 3},
    "learn": {"view": "train"},
}
# The claims judged from the view the preset opens, without training.
JUDGED_AT_ONCE = {"slide": "slide", "many": "many", "compose": "compose", "pool": "pool",
                  "depth": "depth"}  # fmt: skip


@pytest.mark.parametrize("name", PRESET_VALUES)
def test_every_claim_button_sets_up_its_experiment_and_shows_its_claim(name):
    at = open_page(PAGE, side="64", dilation="3")
    at.button(key=f"preset_{name}").click().run()
    ok(at)
    values = {w.key: w.value for w in at.main if getattr(w, "key", None) in PRESET_VALUES[name]}
    assert values == PRESET_VALUES[name]
    if at.segmented_control(key="view").value in ("filters", "compose", "pool"):
        assert at.select_slider(key="side").value == 128  # everything else back to its default
    if name in JUDGED_AT_ONCE:
        assert "Held" in verdict(at, JUDGED_AT_ONCE[name]), verdict(at, JUDGED_AT_ONCE[name])


def test_chinese_prose_and_reset():
    at = open_page(PAGE, lang="zh", stride="3")
    assert at.title[0].value == "卷积网络实验室：滤波器、特征图与池化"
    assert "成立" in verdict(at, "slide")
    at.button(key="frame_reset").click().run()
    assert ok(at).slider(key="stride").value == 1
    assert at.title[0].value == "卷积网络实验室：滤波器、特征图与池化"  # the language stays


@pytest.mark.parametrize(
    ("state", "words"),
    [
        ("diverged", "Training diverged at epoch 1"),
        ("capped", "used its"),
        ("lost", "dropped because its page stopped asking"),
    ],
)
def test_each_end_of_a_run_has_its_message(state, words):
    """A run that diverged, used up its compute or was lost says so (states set as the engine
    would: a NaN run, the per-run cap, a session the janitor gave up on)."""
    at = open_page(PAGE, view="train")
    at.button(key="step").click().run()
    run = at.session_state["_cnn_run"]
    run.state, run.error = state, "session ended" if state == "lost" else ""
    run.job.diverged = state == "diverged"
    ok(at.run())
    shown = " ".join(e.value for e in [*at.error, *at.warning])
    assert words in shown, shown
    assert at.button(key="train").disabled  # Restart is the way on
