"""AppTest: the RNN lab in every view, every sequence source, from URLs, with typed and uploaded
sequences (valid and broken), trained step by step and in a worker, and the long-memory sweep."""

from __future__ import annotations

import time

import pytest

from tests.app.conftest import check_rows, open_page
from ui import rnn as R
from ui.engine import LiveRun, engine

PAGE = "pages/rnn.py"


def chart_keys(at) -> str:
    return " ".join(c.proto.id for c in at.get("plotly_chart"))


def progress(at) -> str:
    return at.get("progress")[0].proto.text


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def verdict_of(at, words: str) -> str:
    """The text of the verdict element whose claim contains `words`."""
    return next(m.value for m in at.markdown if "-badge[" in m.value and words in m.value)


def latex(at) -> list[str]:
    return [e.value for e in at.latex]


def run_ok(at):
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def click(at, key: str):
    at.button(key=key).click()
    return run_ok(at)


def rerun_until(at, done, limit_s: float = 90.0):
    """Reruns (as the page's timer does in a browser) until done(at) holds."""
    deadline = time.monotonic() + limit_s
    while not done(at) and time.monotonic() < deadline:
        time.sleep(0.1)
        run_ok(at)
    assert done(at)
    return at


def all_checks_pass(at) -> bool:
    rows = check_rows(at)
    return bool(rows) and all(row["agrees"] == "✅" for row in rows)


def test_default_view_shows_the_rnn_cell_unrolled_with_its_numbers():
    at = open_page(PAGE)
    assert at.title[0].value == "RNN, LSTM and GRU"
    assert at.selectbox(key="source").value == "sine"
    assert at.segmented_control(key="view").value == "cell"
    assert at.segmented_control(key="cell").value == "rnn"
    assert progress(at) == "Epoch 0 of 100"
    assert set(metrics(at)) == {"RNN: test loss", "LSTM: test loss", "GRU: test loss"}
    assert "chart_cell_series" in chart_keys(at)
    [equation] = latex(at)
    assert r"h_t &= \tanh(" in equation and r"\dots" in equation  # 12 units, 4 shown
    assert "Held" in verdict_of(at, "depends on the current input")
    rows = check_rows(at)  # the cell on show: forward, gates and BPTT against torch.nn
    assert [r[next(iter(r))].split(":")[0] for r in rows] == ["RNN"] * 3 and all_checks_pass(at)


def test_stepping_through_time_moves_the_numbers():
    at = open_page(PAGE)
    first = latex(at)[0]
    click(at, "step_next")
    assert at.slider(key="t").value == 2
    assert latex(at)[0] != first
    assert any("Step 2: the input" in m.value for m in at.markdown)
    click(at, "step_back")
    click(at, "step_back")  # stops at the first step
    assert at.slider(key="t").value == 1 and latex(at)[0] == first
    at.slider(key="t").set_value(60)
    run_ok(at)
    click(at, "step_next")  # and at the last
    assert at.slider(key="t").value == 60


@pytest.mark.parametrize("cell,lines", [("lstm", ["i_t", "f_t", "g_t", "o_t", "c_t", "h_t"]),
                                        ("gru", ["r_t", "z_t", "n_t", "h_t"])])  # fmt: skip
def test_gated_cells_write_every_gate_with_its_numbers(cell, lines):
    at = open_page(PAGE, cell=cell, t="7")
    text = " ".join(latex(at))
    assert all(f"{line} &=" in text for line in lines)
    assert "Held" in verdict_of(at, "depends on the current input")
    assert {r[next(iter(r))].split(":")[0] for r in check_rows(at)} == {cell.upper()}


GATES = {
    "rnn": ["h: hidden state"],
    "lstm": ["i: input gate", "f: forget gate", "o: output gate", "g: candidate", "c: cell state",
             "h: hidden state"],
    "gru": ["z: update gate", "r: reset gate", "n: candidate", "h: hidden state"],
}  # fmt: skip


@pytest.mark.parametrize("cell,gates", GATES.items())
def test_gate_heatmaps_show_every_gate_of_the_cell(cell, gates):
    at = open_page(PAGE, view="gates", cell=cell, t="12")
    chart = next(c for c in at.get("plotly_chart") if "chart_gates" in c.proto.id)
    spec = chart.proto.spec
    assert all(gate.split(":")[0] in spec for gate in gates)
    assert "Held" in verdict_of(at, "LSTM adds input, forget and output gates")


def test_one_epoch_trains_all_three_cells_and_they_still_match_pytorch():
    at = open_page(PAGE, view="predict")
    before = metrics(at)
    assert {"chart_loss", "chart_series"} <= set(chart_keys(at).replace("-", " ").split())
    assert "Train to see" in verdict_of(at, "RNNs model time series")
    click(at, "step")
    assert progress(at) == "Epoch 1 of 100"
    after = metrics(at)
    assert all(float(after[k]) < float(before[k]) for k in before)
    assert len(check_rows(at)) == 9 and all_checks_pass(at)  # 3 cells × forward, gates, BPTT
    assert at.get("download_button")  # exports: weights, state_dict, history
    assert any("load_state_dict" in c.value for c in at.code)


def test_train_in_a_worker_pause_resume_and_restart():
    at = open_page(PAGE, view="predict", epochs="1000")
    before = metrics(at)
    click(at, "train")
    assert at.button(key="pause").label == "Pause"
    rerun_until(at, lambda a: int(progress(a).split()[1]) > 0)
    assert metrics(at) != before  # the held-out scores follow the worker's reports
    click(at, "pause")
    paused = progress(at)
    run_ok(at)
    assert progress(at) == paused and all_checks_pass(at)
    click(at, "train")
    rerun_until(at, lambda a: progress(a) != paused)
    click(at, "restart")
    assert progress(at) == "Epoch 0 of 1000"


def test_series_preset_trains_to_its_last_epoch_and_holds():
    at = open_page(PAGE, view="cell")
    click(at, "preset_series")
    assert at.segmented_control(key="view").value == "predict"
    click(at, "train")
    rerun_until(at, lambda a: progress(a) == "Epoch 100 of 100", limit_s=120)
    rerun_until(at, lambda a: "Train to see" not in verdict_of(a, "RNNs model time series"))
    assert "Held" in verdict_of(at, "RNNs model time series")


def test_changing_a_setting_starts_a_new_run():
    at = open_page(PAGE)
    click(at, "step")
    at.slider(key="hidden").set_value(4)
    run_ok(at)
    assert progress(at) == "Epoch 0 of 100"


@pytest.mark.parametrize("source", ["noisy_sine", "sawtooth", "square", "sample"])
def test_every_built_in_sequence_trains(source):
    at = open_page(PAGE, view="predict", source=source)
    click(at, "step")
    assert progress(at) == "Epoch 1 of 100"
    if source == "noisy_sine":
        at.slider(key="noise").set_value(0.5)
        run_ok(at)
    if source == "sample":
        assert any("NOAA" in c.value for c in at.caption)
        assert (
            "year"
            in next(c for c in at.get("plotly_chart") if "chart_series" in c.proto.id).proto.spec
        )


def test_typed_numbers_valid_and_broken():
    at = open_page(PAGE, source="numbers", view="predict")
    click(at, "step")
    assert "chart_series" in chart_keys(at)
    at.text_input(key="numbers").set_value("1, 2, three, 4")
    run_ok(at)
    assert any("Found 4 numbers" in e.value for e in at.error)
    at.text_input(key="numbers").set_value(", ".join(["3"] * 30))
    run_ok(at)
    assert any("is 3: there is nothing to predict" in e.value for e in at.error)
    assert not at.get("progress")


def test_typed_text_predicts_characters_and_broken_text_says_why():
    at = open_page(PAGE, source="text", view="predict")
    assert set(metrics(at)) == {"RNN: test accuracy", "LSTM: test accuracy", "GRU: test accuracy"}
    click(at, "step")
    codes = " ".join(c.value for c in at.code)
    assert "truth" in codes and "⟨" in codes  # guesses and a continuation
    at.segmented_control(key="view").set_value("cell")
    run_ok(at)
    assert any("the character 't', one-hot" in m.value for m in at.markdown)
    at.text_input(key="text").set_value("too short")
    run_ok(at)
    assert any("type at least 24" in e.value for e in at.error)


def test_a_window_too_long_for_the_series_says_so():
    at = open_page(PAGE, length="48", window="64")
    assert any("lower **Window**" in e.value or "lower Window" in e.value for e in at.error)


# --- uploads ------------------------------------------------------------------------------------


def upload(at, name: str, data: bytes):
    at.file_uploader(key="upload_file").set_value((name, data, "text/csv"))
    return run_ok(at)


def test_uploaded_column_with_dates_gaps_and_missing_values_is_reported_and_trains():
    at = open_page(PAGE, source="upload", view="predict")
    assert any("Upload a CSV file" in i.value for i in at.info)
    days = [f"2024-03-{d:02d}" for d in range(1, 32) if d not in (9, 10)]
    rows = [f"{day},{'' if i == 5 else i % 7},{i}" for i, day in enumerate(days)]
    upload(at, "levels.csv", ("date,level,n\n" + "\n".join(rows)).encode())
    assert at.selectbox(key="upload_column").value == "n"
    at.selectbox(key="upload_column").set_value("level")
    run_ok(at)  # the date columns offered are the others
    at.selectbox(key="upload_dates").set_value("date")
    run_ok(at)
    captions = " ".join(c.value for c in at.caption)
    assert "The dates skip 2 steps" in captions and "1 missing values" in captions
    assert "31 steps of level" in captions
    click(at, "step")
    assert progress(at) == "Epoch 1 of 100"


@pytest.mark.parametrize(
    "name,data,expected",
    [
        ("pic.csv", b"\x89PNG\r\n\x1a\n" + bytes(100), "PNG image"),
        ("words.csv", b"a,b\nx,y\nu,v\n" * 10, "a series needs one column of numbers"),
        ("short.csv", b"x\n" + b"1\n2\n3\n", "at least 24"),
        ("bare.csv", b"1.5\n2.5\n" * 20, "not column names"),
        ("flat.csv", b"x\n" + b"7\n" * 30, "nothing to predict"),
        ("empty.csv", b"", "empty"),
    ],
)
def test_broken_uploads_get_a_precise_message(name, data, expected):
    at = open_page(PAGE, source="upload")
    upload(at, name, data)
    messages = " ".join(e.value for e in at.error)
    assert expected.lower() in messages.lower(), messages
    assert not at.get("progress")


def test_a_note_above_the_header_is_skipped_with_a_preview_and_trains():
    """Issue 9, on this page too: a line above the header is offered to be skipped."""
    rows = "\n".join(f"{i},{(i * 7) % 11}" for i in range(40))
    at = upload(open_page(PAGE, source="upload", view="predict"), "pump.csv",
                f"pump log of 2024\nt,level\n{rows}\n".encode())  # fmt: skip
    assert any("The first 1 line(s)" in i.value for i in at.info)
    skip = next(w for w in at.number_input if str(w.key).startswith("upload_skip_"))
    assert skip.value == 1
    assert list(at.dataframe[0].value.columns) == ["t", "level"]
    assert at.selectbox(key="upload_column").value == "level"
    assert any("40 steps of level" in c.value for c in at.caption)
    click(at, "step")
    assert progress(at) == "Epoch 1 of 100"
    skip.set_value(0).run()  # read as it is, the note is the header: refused
    assert "Line 2 has 2 values, but the first row has 1" in at.error[0].value
    assert not at.get("progress")


# --- long memory and gradients -----------------------------------------------------------------


def test_memory_sweep_trains_as_one_job_and_its_result_is_shared():
    settings = {"view": "memory", "lag": "6", "mem_seeds": "1"}
    at = open_page(PAGE, **settings)
    assert any("trains 9 small nets" in i.value for i in at.info)
    assert "Train to see" in verdict_of(at, "Plain RNNs struggle")
    click(at, "mem_train")
    rerun_until(at, lambda a: "chart_memory" in chart_keys(a) and not a.get("progress"), 120)
    # At lags up to 6 the plain RNN still remembers: the verdict says what to change.
    verdict = verdict_of(at, "Plain RNNs struggle")
    assert "Did not hold here" in verdict and "raise **Longest lag T**" in verdict
    other = open_page(PAGE, **settings)  # another learner, same settings: no training at all
    assert any("Computed earlier on this server" in c.value for c in other.caption)
    assert "chart_memory" in chart_keys(other)
    assert "Did not hold here" in verdict_of(other, "Plain RNNs struggle")
    other.segmented_control(key="view").set_value("gradients")
    run_ok(other)
    at_start = gradients_spec(other)
    other.segmented_control(key="grad_weights").set_value("trained")
    run_ok(other)
    assert "chart_gradients" in chart_keys(other)
    assert gradients_spec(other) != at_start  # the trained weights' curves, not the start's


def gradients_spec(at) -> str:
    return next(c.proto.spec for c in at.get("plotly_chart") if "chart_gradients" in c.proto.id)


def test_gradients_preset_holds_and_turning_the_gate_bias_off_fails():
    at = open_page(PAGE)
    click(at, "preset_gradients")
    assert at.segmented_control(key="view").value == "gradients"
    assert "Held" in verdict_of(at, "Gating eases vanishing gradients")
    assert any("vs autograd (relative)" in r[next(iter(r))] for r in check_rows(at))
    at.toggle(key="gate_bias").set_value(False)
    run_ok(at)
    verdict = verdict_of(at, "Gating eases vanishing gradients")
    assert "Did not hold here" in verdict and "Gates start open to memory" in verdict


def test_trained_gradients_before_any_sweep_say_what_to_do():
    at = open_page(PAGE, view="gradients", grad_weights="trained", lag="80", mem_seeds="2")
    assert any("has not been run for these settings" in i.value for i in at.info)


# --- URLs, presets, reset, language ------------------------------------------------------------


def test_url_restores_the_view():
    at = open_page(
        PAGE, source="square", length="300", period="40", window="20", hidden="6", lr="0.03",
        epochs="50", seed="9", view="gates", cell="gru", t="17", lag="24", mem_seeds="2",
        gate_bias="false",
    )  # fmt: skip
    assert at.selectbox(key="source").value == "square"
    assert at.select_slider(key="length").value == 300
    assert at.slider(key="period").value == 40
    assert at.slider(key="window").value == 20
    assert at.slider(key="hidden").value == 6
    assert at.select_slider(key="lr").value == 0.03
    assert at.number_input(key="seed").value == 9
    assert at.segmented_control(key="cell").value == "gru"
    assert at.slider(key="t").value == 17
    assert at.select_slider(key="lag").value == 24
    assert at.slider(key="mem_seeds").value == 2
    assert at.toggle(key="gate_bias").value is False
    assert progress(at) == "Epoch 0 of 50"


def test_horizon_and_text_from_the_url():
    at = open_page(
        PAGE, view="predict", horizon="200", source="text", text="abcabcabcabcabcabcabcabcabc"
    )
    assert at.select_slider(key="horizon").value == 200
    assert at.text_input(key="text").value == "abcabcabcabcabcabcabcabcabc"


def test_tampered_url_falls_back_to_defaults():
    at = open_page(
        PAGE, source="../../etc", view="<b>", cell="eval", t="9999", hidden="-3", lr="1e9",
        lag="7", mem_seeds="abc", window="x",
    )  # fmt: skip
    assert at.selectbox(key="source").value == "sine"
    assert at.segmented_control(key="view").value == "cell"
    assert at.segmented_control(key="cell").value == "rnn"
    assert at.slider(key="hidden").value == 12
    assert at.select_slider(key="lr").value == 0.01
    assert at.select_slider(key="lag").value == 60
    assert at.slider(key="window").value == 16
    click(at, "step")


CLAIMS = {  # each claim button and what it must set (pages/rnn.py PRESETS)
    "unrolled": {"view": "cell", "cell": "rnn"},
    "gates": {"view": "gates", "cell": "lstm"},
    "memory": {"view": "memory", "lag": 60, "mem_seeds": 3, "gate_bias": True},
    "gradients": {"view": "gradients", "lag": 60, "gate_bias": True},
    "series": {"view": "predict", "source": "sine", "epochs": 100},
}


@pytest.mark.parametrize("name", CLAIMS)
def test_every_claim_button_sets_up_its_experiment(name):
    at = open_page(PAGE, hidden="5", lag="12")
    click(at, f"preset_{name}")
    values = {w.key: w.value for w in at.main if getattr(w, "key", None) in CLAIMS[name]}
    assert values == CLAIMS[name]
    assert at.slider(key="hidden").value == 12  # everything else back to its default
    assert "Did not hold here" not in " ".join(m.value for m in at.markdown if "-badge[" in m.value)


def test_reset_to_defaults():
    at = open_page(PAGE, source="square", hidden="4", view="gates", cell="lstm")
    click(at, "frame_reset")
    assert at.selectbox(key="source").value == "sine"
    assert at.slider(key="hidden").value == 12
    assert at.segmented_control(key="view").value == "cell"


def test_chinese_prose():
    at = open_page(PAGE, lang="zh", view="memory")
    assert at.title[0].value == "RNN、LSTM 与 GRU"
    assert any("扫描要训练" in i.value for i in at.info)
    at.segmented_control(key="view").set_value("predict")
    run_ok(at)
    click(at, "step")
    assert progress(at) == "第 1 轮，共 100 轮"
    assert set(metrics(at)) == {"RNN：测试损失", "LSTM：测试损失", "GRU：测试损失"}


# --- the ends of a run, and a queue --------------------------------------------------------------


def test_a_run_whose_weights_turn_nan_diverges_and_says_what_to_do():
    at = open_page(PAGE, view="predict")
    click(at, "step")
    for member in at.session_state["_rnn_run"].job.members:  # as an overflowing step would
        member.net.params[1].fill_(float("nan"))
    click(at, "step")
    errors = " ".join(e.value for e in at.error)
    assert "Training diverged at epoch 2" in errors and "Lower the learning rate" in errors
    assert at.button(key="train").disabled and at.button(key="step").disabled
    assert set(metrics(at).values()) == {"NaN"}
    assert "Every cell diverged" in verdict_of(at, "RNNs model time series")


@pytest.mark.parametrize(
    ("state", "words"),
    [("capped", "used its"), ("lost", "dropped because its page stopped asking")],
)
def test_a_capped_or_lost_run_says_so(state, words):
    """States set as the engine would: the per-run compute cap, a session the janitor gave up on."""
    at = open_page(PAGE)
    click(at, "step")
    run = at.session_state["_rnn_run"]
    run.state, run.error = state, "session ended" if state == "lost" else ""
    run_ok(at)
    shown = " ".join(w.value for w in at.warning)
    assert words in shown, shown
    assert at.button(key="train").disabled  # Restart is the way on


def test_a_queued_run_shows_its_place():
    e = engine()
    room = e.settings.capacity - e.load()["running"]
    prep = R.next_step(R.generated("sine", 100, 20, 0.0, 0), 8)
    others = [LiveRun(i, R.series_job(prep, 4, 0.01, i), ("others", i)) for i in range(room)]
    for run in others:  # every slot taken by other learners' long runs
        run.start(e, 10**9)
    try:
        at = open_page(PAGE, epochs="1000")
        click(at, "train")
        assert "number 1 in line" in " ".join(i.value for i in at.info)
        others[0].drop(e)
        rerun_until(at, lambda a: int(progress(a).split()[1]) > 0)
        click(at, "pause")
    finally:
        for run in others:
            run.drop(e)
