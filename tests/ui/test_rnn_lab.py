"""The RNN lab's glue: sequences (made, typed, shipped, uploaded), windows, runs, verdicts, exports.

Each claim's preset is trained here (the long-memory sweep on a reduced grid) and its verdict
must say held; each verdict is also shown failing on a case where its claim does not hold.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
import torch

from dlcore import rnn as N
from dlcore.reference import rnn as reference_rnn
from ui import rnn as R
from ui import uploads
from ui.engine import ResultStore
from ui.parsing import InputError


def table(text: str) -> pd.DataFrame:
    return uploads.read_csv(text.encode(), "series.csv")


# --- sequences -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", R.WAVES)
def test_waves_have_their_period_and_amplitude(kind: str) -> None:
    values = R.wave(kind, 200, 25, 0.0 if kind != "noisy_sine" else 0.3, seed=1)
    assert values.shape == (200,)
    if kind != "noisy_sine":
        np.testing.assert_allclose(values[:175], values[25:], atol=1e-9)  # periodic, period 25
        assert values.max() == pytest.approx(1.0, abs=2 / 25) and values.min() >= -1.0
    else:
        clean = R.wave("sine", 200, 25, 0.0, 1)
        assert 0.2 < np.std(values - clean) < 0.4
        np.testing.assert_array_equal(values, R.wave(kind, 200, 25, 0.3, seed=1))  # seeded


def test_typed_numbers_and_their_errors() -> None:
    series = R.typed_numbers(R.DEFAULT_NUMBERS)
    assert len(series) == 49 and series.values[:3].tolist() == [1, 3, 2]
    with pytest.raises(InputError) as err:
        R.typed_numbers("1, 2, 3")
    assert err.value.key == "err_count"
    with pytest.raises(InputError) as err:
        R.typed_numbers("1, 2, x" + ", 4" * 30)
    assert err.value.key == "err_not_number" and err.value.values["token"] == "x"
    with pytest.raises(InputError) as err:
        R.typed_numbers(", ".join(["5"] * 30))
    assert err.value.key == "err_constant"


def test_typed_text_becomes_character_indices() -> None:
    series = R.typed_text(R.DEFAULT_TEXT)
    assert series.is_text and series.text() == R.DEFAULT_TEXT
    assert series.vocab == tuple(sorted(set(R.DEFAULT_TEXT)))
    for text, key in (
        ("short", "err_text_short"),
        ("a" * 40, "err_text_one_character"),
        ("".join(chr(0x4E00 + i) for i in range(50)), "err_text_vocab"),
        ("ab" * 1500, "err_text_long"),
    ):
        with pytest.raises(InputError) as err:
            R.typed_text(text)
        assert err.value.key == key


def test_the_shipped_sample_is_the_yearly_sunspots() -> None:
    series = R.sample()
    assert len(series) == 309 and series.axis == "year"
    assert series.steps[0] == 1700 and series.steps[-1] == 2008
    assert series.values[:3].tolist() == [5.0, 11.0, 16.0]


def test_an_uploaded_column_in_file_order_with_missing_values_filled() -> None:
    rows = "\n".join(f"{i},{'' if i in (5, 6) else i * 2}" for i in range(40))
    series = R.column(table("t,value\n" + rows), "value")
    assert len(series) == 40 and series.axis == "step"
    assert series.values[5] == pytest.approx(10.0) and series.values[6] == pytest.approx(12.0)
    assert dict(series.notes) == {"note_interpolated": 2}


def test_an_uploaded_column_by_dates_with_gaps_put_back_and_ends_dropped() -> None:
    days = pd.date_range("2024-01-01", periods=40, freq="D")
    keep = [d for i, d in enumerate(days) if i not in (10, 11, 12)]  # three days missing
    lines = [f"{d.date()};{i + 0.5}".replace(".", ",") for i, d in enumerate(keep)]
    lines[20] = "not a date;3,5"  # its day (the 24th) becomes one more gap
    lines[0] = f"{keep[0].date()};"  # no value on the first day: dropped
    shuffled = lines[::-1]  # the dates order the rows, not the file
    series = R.column(table("day;level\n" + "\n".join(shuffled)), "level", "day")
    notes = dict(series.notes)
    assert notes["note_no_date"] == 1 and notes["note_date_gaps"] == 4
    assert notes["note_dropped_ends"] == 1
    assert series.axis == "date" and len(series) == 39  # the 2nd to the 40th day, gaps filled
    assert np.all(np.diff(series.steps.astype("datetime64[s]").astype(np.int64)) == 86_400)
    assert np.all(np.diff(series.values) > 0)  # rising values, gaps filled in between


def test_date_columns_are_found_and_numbers_are_not_dates() -> None:
    frame = table(
        "when,year,v\n" + "\n".join(f"2024-02-{d:02d},{2000 + d},{d}" for d in range(1, 21))
    )
    assert R.date_columns(frame) == ["when"]


@pytest.mark.parametrize(
    "csv,key",
    [
        ("a,b\nx,1\ny,2\nz,3\n" * 5, "upload_feature_not_numeric"),
        ("a,b\n1,2\n2,3\n3,4\n", "err_short"),
    ],
)
def test_an_unusable_column_says_why(csv: str, key: str) -> None:
    with pytest.raises((uploads.UploadError, InputError)) as err:
        R.column(table(csv), "a")
    assert err.value.key == key


# --- windows and the run -------------------------------------------------------------------------


def test_next_step_windows_are_chronological_and_standardised_on_training_data() -> None:
    series = R.generated("sawtooth", 100, 20, 0.0, 0)
    prep = R.next_step(series, 10)
    d = prep.data
    assert d.X_train.shape == (72, 10, 1) and d.X_test.shape == (18, 10, 1)
    assert prep.split == 82  # the first held-out target
    z = (series.values - prep.mean) / prep.std
    np.testing.assert_allclose(d.X_train[3, :, 0].numpy(), z[3:13], atol=1e-6)
    np.testing.assert_allclose(d.y_test[0, 0].item(), z[82], atol=1e-6)
    assert series.values[:82].mean() == pytest.approx(prep.mean)
    with pytest.raises(InputError) as err:
        R.next_step(series, 95)
    assert err.value.key == "err_window"


def test_text_windows_are_one_hot_with_character_targets() -> None:
    series = R.typed_text(R.DEFAULT_TEXT)
    prep = R.next_step(series, 8)
    assert prep.data.task == "multiclass" and prep.data.n_classes == len(series.vocab)
    assert prep.data.X_train.shape[1:] == (8, len(series.vocab))
    assert torch.equal(prep.data.X_train[0].argmax(dim=1), torch.tensor(series.values[:8]).long())
    assert prep.data.y_train[0].item() == series.values[8]


def test_the_three_cells_train_as_one_job_and_forecast_past_the_end() -> None:
    prep = R.next_step(R.generated("sine", 120, 20, 0.0, 0), 12)
    job = R.series_job(prep, 6, 0.01, 0)
    assert [m.net.kind for m in job.members] == list(R.KINDS)
    job.run(3)
    assert job.epoch == 3 and set(job.history.member) == {0, 1, 2}
    ahead = R.free_run(prep, job.members[1].net, 7)
    assert ahead.shape == (7,) and np.isfinite(ahead).all()
    # The first free-running step is the one-step prediction of the window at the end.
    last = prep.encoded[-12:].unsqueeze(0)
    first = prep.units(job.members[1].net.predict(last)[0, 0].double().numpy())
    assert ahead[0] == pytest.approx(first, rel=1e-6)
    assert R.one_step(prep, job.members[0]).shape == (108,)
    scores = R.test_errors(prep, job)
    assert scores == {k: m.history.test_loss[-1] for k, m in zip(R.KINDS, job.members, strict=True)}
    # A session's mirror gets only the sweep's rows while a worker trains: they are what counts.
    job.history.extend({"member": [2], "epoch": [4], "train_loss": [0.5], "test_loss": [0.25],
                        "train_accuracy": [math.nan], "test_accuracy": [math.nan]})  # fmt: skip
    assert R.test_errors(prep, job)["gru"] == 0.25


def test_checks_against_pytorch_are_tiny() -> None:
    prep = R.next_step(R.typed_text(R.DEFAULT_TEXT), 6)
    job = R.series_job(prep, 5, 0.01, 3)
    for member in job.members:
        diffs = R.pytorch_diffs(member, R.cell_inputs(prep, 20), prep.data.X_train[:16])
        assert max(diffs.values()) < 1e-5, diffs


# --- the claims, their presets and their failures ------------------------------------------------


@pytest.mark.parametrize("kind", R.KINDS)
def test_unrolled_claim_holds_for_every_cell_and_step(kind: str) -> None:
    prep = R.next_step(R.generated("sine", 200, 25, 0.0, 0), 16)
    net = N.SequenceModel(kind, 1, 12, 1, seed=0)
    x = R.cell_inputs(prep, 60)
    trace = R.run_cell(net, x)
    for t in (1, 2, 30, 60):
        verdict = R.unrolled_verdict(kind, net.params[:4], x, trace, t)
        assert verdict.held, verdict
    numbers = R.step_numbers(kind, net.params[:4], x, trace, 30)
    h = numbers["h"]
    if kind == "rnn":
        np.testing.assert_allclose(h, np.tanh(numbers["x_a"] + numbers["h_a"]), atol=1e-6)
    assert len(R.equations(kind, numbers, 4)) >= 1


def test_unrolled_claim_fails_when_the_weights_are_zero() -> None:
    net = N.SequenceModel("rnn", 1, 4, 1, seed=0)
    weights = [torch.zeros_like(w) for w in net.params[:4]]
    x = torch.ones(5, 1, 1)
    trace = N.rnn(x, torch.zeros(1, 4), *weights)[2]
    verdict = R.unrolled_verdict("rnn", weights, x, trace, 3)
    assert verdict.held is False and verdict.failed == "claim"


def test_gates_claim_holds_and_a_broken_trace_fails() -> None:
    prep = R.next_step(R.generated("square", 100, 20, 0.0, 0), 16)
    job = R.series_job(prep, 8, 0.01, 0)
    x = R.cell_inputs(prep, 60)
    traces = {k: R.run_cell(m.net, x) for k, m in zip(R.KINDS, job.members, strict=True)}
    assert R.gates_verdict(traces).held
    traces["gru"] = dict(traces["gru"], z=traces["gru"]["z"] * 1.5)  # a gate beyond 1
    assert R.gates_verdict(traces).held is False


def test_series_preset_holds_after_training() -> None:
    """The preset: a sine, 100 epochs at the defaults (window 16, 12 units, lr 0.01)."""
    torch.set_num_threads(1)
    prep = R.next_step(R.generated("sine", 200, 25, 0.0, 0), 16)
    job = R.series_job(prep, 12, 0.01, 0)
    assert R.series_verdict(False, {}, 1.0, False).held is None  # pending until trained
    job.run(100)
    verdict = R.series_verdict(True, R.test_errors(prep, job), R.naive_score(prep), False)
    assert verdict.held, verdict
    assert verdict.values["score"] < 0.1 * verdict.values["naive"]


def test_series_verdict_fails_when_no_cell_beats_the_naive_forecast() -> None:
    verdict = R.series_verdict(True, {"rnn": 0.5, "lstm": 0.4, "gru": float("nan")}, 0.3, False)
    assert verdict.held is False and verdict.values["cell"] == "LSTM"
    text = R.series_verdict(True, {"rnn": 0.2, "lstm": 0.1, "gru": 0.25}, 0.3, True)
    assert text.held is False and text.failed == "text"
    assert R.series_verdict(True, {"rnn": float("nan")}, 0.3, False).failed == "diverged"


# A reduced grid for the memory preset (lag 60, 3 seeds): its shortest and longest lags, 2 seeds.
REDUCED = R.MemorySettings((10, 60), seeds=2, gate_bias=True)


@pytest.fixture(scope="module")
def memory_sweep() -> R.MemoryResult:
    torch.set_num_threads(1)
    job = R.memory_job(REDUCED)
    job.run(REDUCED.epochs)
    return R.memory_result(REDUCED, job)


def test_memory_preset_holds_on_a_reduced_grid(memory_sweep: R.MemoryResult) -> None:
    assert memory_sweep.accuracy.shape == (2, 3, 2)
    verdict = R.memory_verdict(memory_sweep)
    assert verdict.held, verdict
    assert verdict.values["rnn_long"] < R.FORGETS <= R.REMEMBERS <= verdict.values["gated"]


def test_memory_verdict_names_what_failed() -> None:
    def result(acc: list[list[float]], bias: bool = True) -> R.MemoryResult:
        settings = R.MemorySettings((5, 10), 1, bias)
        return R.MemoryResult(settings, np.array(acc)[:, :, None])

    assert R.memory_verdict(None).held is None
    assert R.memory_verdict(result([[1, 1, 1], [0.95, 1, 1]])).failed == "lag"
    assert R.memory_verdict(result([[1, 1, 1], [0.5, 0.6, 0.5]], bias=False)).failed == "bias"
    assert R.memory_verdict(result([[1, 1, 1], [0.5, 0.6, 0.5]])).failed == "gated"
    assert R.memory_verdict(result([[0.6, 1, 1], [0.5, 1, 1]])).failed == "short"


def test_memory_task_hides_the_bit_in_the_first_step_only() -> None:
    X, y = R.memory_task(7, 64, 3)
    assert X.shape == (64, 7, 2) and set(X[:, :, 0].unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(y, (X[:, 0, 0] > 0).long())
    assert X[:, 0, 1].eq(1).all() and X[:, 1:, 1].eq(0).all()
    assert R.memory_lags(60) == (10, 20, 40, 60) and R.memory_lags(6) == (2, 4, 6)


def test_gate_bias_opens_the_gated_cells_memory() -> None:
    open_ = R.memory_model("lstm", REDUCED, 0)
    plain = N.SequenceModel("lstm", 2, REDUCED.hidden, 1, 0)
    H = REDUCED.hidden
    torch.testing.assert_close(open_.params[3][H : 2 * H], plain.params[3][H : 2 * H] + 3)
    torch.testing.assert_close(open_.params[3][:H], plain.params[3][:H] - 2)


def test_gradient_preset_holds_at_the_start_and_fails_without_open_gates() -> None:
    """The preset: lag 60 with gates open to memory; the same cells with torch's biases fail."""
    X, y = R.memory_task(60, 128, 7)
    for bias, held in ((True, True), (False, False)):
        settings = R.MemorySettings(R.memory_lags(60), 3, bias)
        kept = {k: R.kept_fraction(R.gradient_norms(R.memory_model(k, settings, 0), X, y))
                for k in R.KINDS}  # fmt: skip
        verdict = R.gradient_verdict(kept, bias)
        assert verdict.held is held, verdict
        if not held:
            assert verdict.failed == "bias"


def test_gradient_norms_equal_autograd() -> None:
    X, y = R.memory_task(15, 16, 1)
    for kind in R.KINDS:
        model = R.memory_model(kind, REDUCED, 0)
        assert R.gradient_check(model, X, y) < 1e-5


def test_results_are_stored_per_settings_and_the_oldest_go_first(memory_sweep) -> None:
    store = ResultStore(size=2)
    store.put(memory_sweep.settings, memory_sweep)
    assert store.get(REDUCED) is memory_sweep
    for lag in (3, 4):
        settings = R.MemorySettings((lag,), 1, True)
        store.put(settings, R.MemoryResult(settings, np.zeros((1, 3, 1))))
    assert store.get(REDUCED) is None  # pushed out by two newer results


def test_latest_accuracy_reads_each_members_newest_row() -> None:
    settings = R.MemorySettings((3, 5), 1, True)
    history = {"member": [0, 1, 0, 5], "test_accuracy": [0.5, 0.6, 0.9, 1.0]}
    acc = R.latest_accuracy(settings, history)
    assert acc.shape == (2, 3, 1)
    assert acc[0, 0, 0] == 0.9 and acc[0, 1, 0] == 0.6 and acc[1, 2, 0] == 1.0
    assert np.isnan(acc[1, 0, 0])


# --- exports ---------------------------------------------------------------------------------


def test_exported_state_dicts_load_into_the_torch_twin_and_give_the_same_outputs() -> None:
    prep = R.next_step(R.generated("sine", 80, 16, 0.0, 0), 10)
    job = R.series_job(prep, 6, 0.01, 2)
    job.run(2)
    states = torch.load(io.BytesIO(R.state_dict_bytes(job)))
    namespace: dict = {}
    code = R.twin_code(prep, 6, "unused.pt").split("states = torch.load")[0]
    exec(code, namespace)  # the class the learner is given, as text
    for kind, member in zip(R.KINDS, job.members, strict=True):
        assert set(states[kind]) == set(reference_rnn.SequenceTwin(member.net).state_dict())
        model = namespace["NextStep"](kind, prep.inputs, 6, prep.outputs)
        model.load_state_dict(states[kind])
        with torch.no_grad():
            theirs = model(prep.data.X_test)
        torch.testing.assert_close(theirs, member.net.predict(prep.data.X_test))


def test_weights_json_and_history_csv() -> None:
    prep = R.next_step(R.typed_text(R.DEFAULT_TEXT), 6)
    job = R.series_job(prep, 4, 0.01, 0)
    job.run(2)
    doc = pd.read_json(io.StringIO(R.weights_json(prep, job)), typ="series")
    assert doc["characters"] == list(prep.series.vocab) and set(doc["models"]) == set(R.KINDS)
    assert np.array(doc["models"]["gru"]["W_hh"]).shape == (12, 4)
    history = pd.read_csv(io.StringIO(R.history_csv(job)))
    assert history["cell"].tolist().count("lstm") == 3  # epochs 0, 1, 2
    assert {"train_loss", "test_accuracy"} <= set(history.columns)


def test_a_file_of_one_column_is_read_as_a_series_and_a_bare_one_asks_for_a_header() -> None:
    data = ("水位\n" + "\n".join(f"{i},5" for i in range(30))).encode("utf-8-sig")
    frame = R.one_column_table(data, "level.csv")
    assert list(frame.columns) == ["水位"] and frame.attrs["decimal"] == ","
    series = R.column(frame, "水位")
    assert series.values[:2].tolist() == [0.5, 1.5]
    with pytest.raises(uploads.UploadError) as err:
        R.one_column_table(b"1.5\n2.5\n" * 20, "bare.csv")
    assert err.value.key == "upload_no_header"
