"""The RNN lab's glue: sequences, next-step data, the three cells' runs, the long-memory sweep.

A sequence comes from a generator (sine, noisy sine, sawtooth, square), typed numbers, typed text
(next-character prediction), the shipped sunspot sample, or a column of an uploaded CSV; it
becomes windows of `window` steps whose next value (or character) a recurrent net predicts. RNN,
LSTM and GRU train side by side as one engine job (a dlcore.training.Sweep). The long-memory
task and its sweep over lags, cells and seeds, the gradient norms through time, the verdicts of
the page's claims and the exports live here too, free of Streamlit so that tests can call them.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from dlcore import losses, training
from dlcore import rnn as N
from dlcore.reference import rnn as reference_rnn
from ui import uploads
from ui.engine import ResultStore
from ui.parsing import InputError, parse_numbers
from ui.verdict import Verdict

KINDS = N.KINDS  # ("rnn", "lstm", "gru"): the order of every three-cell list on the page
WAVES = ("sine", "noisy_sine", "sawtooth", "square")
SOURCES = (*WAVES, "numbers", "text", "sample", "upload")
MIN_STEPS = 24  # a sequence shorter than this leaves too few windows to train and test on
MAX_STEPS = 2_000  # longer ones keep their last MAX_STEPS values (reported)
MAX_ABS = 1e9  # typed numbers beyond this are typos
MAX_VOCAB = 40  # distinct characters of a typed text: more gives too many classes to learn
TEST_FRACTION = 0.2  # the last fifth of the windows: the model never trains on them
BATCH = 32
SAMPLE = Path(__file__).parent / "data" / "sunspots_yearly.csv"
DEFAULT_NUMBERS = "1, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 8, 6, 4, 2, " * 3 + "1, 3, 2, 5"
DEFAULT_TEXT = "the cat sat on the mat. the dog sat on the log. " * 4


# --- sequences -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Series:
    """A sequence as the page draws it: numbers in their own units, or a text's characters."""

    values: np.ndarray  # (L,) float64 values, or for text the characters' indices in vocab
    steps: np.ndarray  # (L,) what the x axis shows: step numbers, years or dates
    name: str  # the quantity, for the axis
    axis: str = "step"  # what the steps are: "step", "year" or "date"
    vocab: tuple[str, ...] = ()  # text: the distinct characters, sorted; numbers: ()
    notes: tuple[tuple[str, int], ...] = ()  # (message key, count): what was cleaned, reported

    @property
    def is_text(self) -> bool:
        return bool(self.vocab)

    def __len__(self) -> int:
        return len(self.values)

    def text(self, start: int = 0, stop: int | None = None) -> str:
        return "".join(self.vocab[int(i)] for i in self.values[start:stop])


def wave(kind: str, length: int, period: float, noise: float, seed: int) -> np.ndarray:
    """(length,) a sine, noisy sine, sawtooth or square wave of amplitude 1 with this period."""
    if kind not in WAVES:
        raise ValueError(f"unknown wave {kind!r}; valid: {', '.join(WAVES)}")
    phase = np.arange(length) / period  # in periods
    if kind == "sawtooth":
        values = 2 * (phase - np.floor(phase + 0.5))
    elif kind == "square":
        values = np.where(phase % 1 < 0.5, 1.0, -1.0)
    else:
        values = np.sin(2 * np.pi * phase)
    if kind == "noisy_sine":
        # A local generator: sessions draw concurrently, a global seed would race between them.
        g = torch.Generator().manual_seed(int(seed))
        values = values + noise * torch.randn(length, generator=g, dtype=torch.float64).numpy()
    return values


def _numbers(values: np.ndarray, name: str, notes: tuple = ()) -> Series:
    """A numeric series, cut to its last MAX_STEPS values and checked for length and variation."""
    cut = len(values) - MAX_STEPS
    if cut > 0:
        values, notes = values[cut:], (*notes, ("note_cut", cut))
    if len(values) < MIN_STEPS:
        raise InputError("err_short", count=len(values), minimum=MIN_STEPS)
    if np.ptp(values) == 0:
        raise InputError("err_constant", value=f"{values[0]:g}")
    return Series(values.astype(np.float64), np.arange(len(values)), name, notes=notes)


def generated(kind: str, length: int, period: float, noise: float, seed: int) -> Series:
    return _numbers(wave(kind, length, period, noise, seed), "x")


def typed_numbers(text: str) -> Series:
    """The numbers a learner typed (commas, semicolons or spaces between them)."""
    values = parse_numbers(text, MIN_STEPS, MAX_STEPS, MAX_ABS)
    return _numbers(np.asarray(values, dtype=np.float64), "x")


def typed_text(text: str) -> Series:
    """A typed text as character indices, for next-character prediction."""
    if len(text) < MIN_STEPS:
        raise InputError("err_text_short", count=len(text), minimum=MIN_STEPS)
    if len(text) > MAX_STEPS:
        raise InputError("err_text_long", count=len(text), maximum=MAX_STEPS)
    vocab = tuple(sorted(set(text)))
    if len(vocab) < 2:
        raise InputError("err_text_one_character")
    if len(vocab) > MAX_VOCAB:
        raise InputError("err_text_vocab", count=len(vocab), maximum=MAX_VOCAB)
    index = {c: i for i, c in enumerate(vocab)}
    values = np.array([index[c] for c in text], dtype=np.float64)
    return Series(values, np.arange(len(text)), "character", vocab=vocab)


@cache
def _sample_table() -> pd.DataFrame:
    return pd.read_csv(SAMPLE)


def sample() -> Series:
    """Yearly mean sunspot numbers 1700-2008 (NOAA NGDC, public domain; see ui/data/README.md)."""
    table = _sample_table()
    series = _numbers(table["SUNACTIVITY"].to_numpy(np.float64), "sunspots")
    return Series(series.values, table["YEAR"].to_numpy(), series.name, axis="year")


def one_column_table(data: bytes, name: str) -> pd.DataFrame:
    """A file with one column (a series, one value per line) read as ui.uploads reads tables.

    ui.uploads wants two columns at least (features and a target), so each line gets its row
    number in front, tab-separated, and the row column is dropped again after reading.
    """
    text, encoding = uploads.read_text(data, name)
    lines = text.splitlines()
    if pd.to_numeric(pd.Series([lines[0].strip().replace(",", ".")]), errors="coerce").notna()[0]:
        raise uploads.UploadError("upload_no_header", example=uploads.short(lines[0]))
    numbered = ["row\t" + lines[0], *(f"{i}\t{line}" for i, line in enumerate(lines[1:], 1))]
    table = uploads.read_csv("\n".join(numbered).encode("utf-8"), name).drop(columns="row")
    table.attrs["encoding"] = encoding
    return table


def date_columns(table: pd.DataFrame) -> list[str]:
    """The columns whose cells mostly read as dates (at least 90% of the filled ones)."""
    found = []
    for column in table.columns:
        cells = table[column]
        if pd.api.types.is_numeric_dtype(cells.dtype):
            continue  # years or counts: numbers, offered as values
        filled = cells.dropna()
        if len(filled) and _dates(filled).notna().mean() >= 0.9:
            found.append(column)
    return found


def _dates(cells: pd.Series) -> pd.Series:
    return pd.to_datetime(cells.astype("string"), errors="coerce", format="mixed")


def column(table: pd.DataFrame, name: str, dates: str | None = None) -> Series:
    """One numeric column of an uploaded table as a series, in the order of `dates` if given.

    Rows without a readable date are left out; the rest are sorted by date. Where the dates
    skip steps (a gap longer than 1.5 typical steps) the missing steps are put back and filled
    by linear interpolation, as are missing values inside the series; missing values at either
    end are dropped. Each of these is counted in `notes`. UploadError (from ui.uploads) for a
    column that is not numeric.
    """
    # ui.uploads reads the cells as the table's own decimal mark and missing-value words say.
    values = uploads.number_column(table, name)
    notes: list[tuple[str, int]] = []
    steps = np.arange(len(values))
    if dates is not None:
        when = _dates(table[dates])
        known = when.notna().to_numpy()
        if (~known).sum():
            notes.append(("note_no_date", int((~known).sum())))
        order = np.argsort(when[known].to_numpy(), kind="stable")
        values, times = values[known][order], when[known].to_numpy()[order]
        values, times, filled = _regular(values, times)
        if filled:
            notes.append(("note_date_gaps", filled))
        steps = times
    values, steps, dropped, interpolated = _fill_missing(values, steps)
    if dropped:
        notes.append(("note_dropped_ends", dropped))
    put_back = dict(notes).get("note_date_gaps", 0)  # steps the dates skipped: counted above
    if interpolated > put_back:
        notes.append(("note_interpolated", interpolated - put_back))
    series = _numbers(values, str(name), tuple(notes))
    axis = "date" if dates is not None else "step"
    steps = steps[len(steps) - len(series) :]
    return Series(series.values, steps, series.name, axis=axis, notes=series.notes)


def _regular(values: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Values on a regular time grid of the typical step, and how many steps were put back."""
    if len(times) < 3:
        return values, times, 0
    seconds = times.astype("datetime64[s]").astype(np.int64).astype(np.float64)
    gaps = np.diff(seconds)
    step = float(np.median(gaps))
    if step <= 0 or not (gaps > 1.5 * step).any():
        return values, times, 0
    grid = np.arange(seconds[0], seconds[-1] + step / 2, step)
    if len(grid) > 2 * MAX_STEPS:  # wildly uneven dates: keep the rows as they come
        return values, times, 0
    # Each grid point takes the row at its time, or NaN for a step the dates skipped.
    nearest = np.clip(np.searchsorted(seconds, grid), 0, len(seconds) - 1)
    hit = np.abs(seconds[nearest] - grid) <= step / 2
    on_grid = np.where(hit, values[nearest], np.nan)
    times_grid = grid.astype(np.int64).astype("datetime64[s]")
    return on_grid, times_grid, int((~hit).sum())


def _fill_missing(values: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Ends without values dropped, inner gaps interpolated: (values, steps, dropped, filled)."""
    known = ~np.isnan(values)
    if not known.any():
        return values[:0], steps[:0], len(values), 0
    first, last = np.flatnonzero(known)[[0, -1]]
    dropped = int(first + (len(values) - 1 - last))
    values, steps, known = (
        values[first : last + 1],
        steps[first : last + 1],
        known[first : last + 1],
    )
    position = np.arange(len(values))
    filled = np.interp(position, position[known], values[known])
    return filled, steps, dropped, int((~known).sum())


# --- next-step data ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class NextStep:
    """A series cut into windows: each window's next value (or character) is its target."""

    series: Series
    window: int
    data: training.Data  # X (N, window, I), targets (N, 1) standardised, or (N,) characters
    encoded: Tensor  # (L, I) the whole series as the nets read it
    split: int  # the index in the series of the first test target
    mean: float = 0.0  # numbers are standardised with the training part's mean and spread
    std: float = 1.0

    @property
    def inputs(self) -> int:
        return self.encoded.shape[1]

    @property
    def outputs(self) -> int:
        return training.output_size(self.data.task, self.data.n_classes)

    def units(self, z: np.ndarray) -> np.ndarray:
        """Standardised values back in the series' own units."""
        return z * self.std + self.mean


def next_step(series: Series, window: int) -> NextStep:
    """Windows of `window` steps, the last TEST_FRACTION of them held out (chronologically)."""
    L = len(series)
    n = L - window  # windows, each ending before its target
    if n < 10:
        raise InputError("err_window", window=window, length=L)
    n_train = max(1, min(n - 1, round(n * (1 - TEST_FRACTION))))
    split = window + n_train
    if series.is_text:
        index = torch.as_tensor(series.values, dtype=torch.long)  # (L,)
        encoded = torch.nn.functional.one_hot(index, len(series.vocab)).float()  # (L, V)
        targets = index[window:]  # (n,)
        classes, mean, std = len(series.vocab), 0.0, 1.0
    else:
        raw = torch.as_tensor(series.values, dtype=torch.float64)  # (L,)
        part = raw[:split]  # standardised by what training may see
        mean, std = part.mean().item(), part.std(correction=0).item() or 1.0
        encoded = ((raw - mean) / std).float().unsqueeze(1)  # (L, 1)
        targets = encoded[window:]  # (n, 1)
        classes = 0
    X = encoded.unfold(0, window, 1)[:n].transpose(1, 2).contiguous()  # (n, window, I)
    data = training.Data(
        X[:n_train], targets[:n_train], X[n_train:], targets[n_train:],
        training.task_of(classes), classes,
    )  # fmt: skip
    return NextStep(series, window, data, encoded, split, mean, std)


def series_job(
    prep: NextStep, hidden: int, lr: float, seed: int, device: torch.device | str = "cpu"
) -> training.Sweep:
    """RNN, LSTM and GRU (in KINDS order) with one seed, trained side by side as one job."""
    setup = training.Setup((), "tanh", "adam", float(lr), BATCH, seed=int(seed))
    members = [
        training.Trainer(
            prep.data, setup, device=device,
            model=N.SequenceModel(kind, prep.inputs, hidden, prep.outputs, seed, device),
        )
        for kind in KINDS
    ]  # fmt: skip
    return training.Sweep(members)


def one_step(prep: NextStep, trainer: training.Trainer) -> np.ndarray:
    """(n,) each window's prediction of its next value (series units) or character (index)."""
    X = torch.cat((prep.data.X_train, prep.data.X_test))
    out = trainer.output(X).cpu()  # (n, outputs)
    if prep.series.is_text:
        return training.predicted_class(trainer.task, out).numpy()
    return prep.units(out[:, 0].double().numpy())


@torch.inference_mode()
def free_run(prep: NextStep, model: N.SequenceModel, steps: int) -> np.ndarray:
    """(steps,) the model's forecast past the end, each prediction fed back as the next input."""
    device = model.params[0].device
    window = prep.encoded[-prep.window :].to(device).clone()  # (W, I)
    made = []
    for _ in range(steps):
        out = model.predict(window.unsqueeze(0))[0]  # (1, W, I) -> (outputs,)
        if prep.series.is_text:
            task = training.task_of(len(prep.series.vocab))
            nxt = training.predicted_class(task, out.unsqueeze(0))[0]
            made.append(nxt.item())
            new = torch.nn.functional.one_hot(nxt, prep.inputs).to(window)  # (I,)
        else:
            made.append(out[0].item())
            new = out[:1]  # (1,)
        window = torch.cat((window[1:], new.unsqueeze(0)))  # slide by one step
    made = np.asarray(made, dtype=np.float64)
    return made if prep.series.is_text else prep.units(made)


def test_errors(prep: NextStep, sweep: training.Sweep) -> dict[str, float]:
    """Each cell's newest held-out score: MSE (standardised) for numbers, accuracy for text.

    Read from the sweep's long history: while a worker trains, that is what the session's
    mirror of the job receives (its members' own histories stay as they were).
    """
    columns = sweep.history.columns()
    newest: dict[int, float] = {}
    for member, value in zip(
        columns["member"], columns["test_accuracy" if prep.series.is_text else "test_loss"],
        strict=True,
    ):  # fmt: skip
        newest[member] = value  # rows come in order
    return {kind: newest.get(i, math.nan) for i, kind in enumerate(KINDS)}


def naive_score(prep: NextStep) -> float:
    """The score of a forecast with no model: repeat the last value (MSE, standardised), or for
    text always the most frequent training character (accuracy)."""
    d = prep.data
    if prep.series.is_text:
        common = torch.bincount(d.y_train, minlength=len(prep.series.vocab)).argmax()
        return (d.y_test == common).double().mean().item()
    last = d.X_test[:, -1, 0]  # (M,) the value before each target
    return ((d.y_test[:, 0] - last) ** 2).mean().item()


# --- the cell, step by step ----------------------------------------------------------------------


def cell_inputs(prep: NextStep, steps: int) -> Tensor:
    """(T, 1, I) the first `steps` steps of the series, as one sequence for the cell views."""
    return prep.encoded[:steps].unsqueeze(1)


def run_cell(model: N.SequenceModel, x: Tensor) -> N.Trace:
    """The trace of model's recurrent layer over x (T, 1, I), from zero states."""
    return model.trace_of(x.transpose(0, 1).to(model.params[0]))


def one_step_of(kind: str, weights: Sequence[Tensor], x_t: Tensor, state: dict) -> Tensor:
    """h_t of one step of the cell from x_t (1, I) and the previous state {"h", "c"} (1, H)."""
    x = x_t.unsqueeze(0)  # (1, 1, I)
    if kind == "lstm":
        return N.lstm(x, state["h"], state["c"], *weights)[0][0]
    if kind == "gru":
        return N.gru(x, state["h"], *weights)[0][0]
    return N.rnn(x, state["h"], *weights)[0][0]


def previous_state(trace: N.Trace, t: int, hidden: int) -> dict[str, Tensor]:
    """{"h", "c"} (1, H) before step t (1-based): zeros before the first step."""
    if t == 1:
        zeros = trace["h"].new_zeros(1, hidden)
        return {"h": zeros, "c": zeros}
    return {"h": trace["h"][t - 2], "c": trace["c"][t - 2] if "c" in trace else None}


GATE_NAMES = {"rnn": ("a",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


def step_numbers(
    kind: str, weights: Sequence[Tensor], x: Tensor, trace: N.Trace, t: int
) -> dict[str, np.ndarray]:
    r"""Every number of step t (1-based) of the cell, float64: x_t, h_{t-1} (c_{t-1}), each gate's
    input part $W_{i\cdot} x_t + b_{i\cdot}$ ("x_<gate>") and state part ("h_<gate>"), and the
    gates and states the trace holds at t."""
    W_ih, W_hh, b_ih, b_hh = (w.double().cpu() for w in weights)
    H = W_hh.shape[1]
    before = previous_state(trace, t, H)
    x_t, h_prev = x[t - 1, 0].double().cpu(), before["h"][0].double().cpu()  # (I,), (H,)
    xw, hw = W_ih @ x_t + b_ih, W_hh @ h_prev + b_hh  # (GH,)
    numbers = {"x": x_t.numpy(), "h_prev": h_prev.numpy()}
    if kind == "lstm":
        numbers["c_prev"] = before["c"][0].double().cpu().numpy()
    for j, gate in enumerate(GATE_NAMES[kind]):
        numbers[f"x_{gate}"] = xw[j * H : (j + 1) * H].numpy()
        numbers[f"h_{gate}"] = hw[j * H : (j + 1) * H].numpy()
    for name, values in trace.items():
        numbers[name] = values[t - 1, 0].double().cpu().numpy()
    return numbers


def _vector(values: np.ndarray, units: int) -> str:
    """A row vector in LaTeX, its first `units` entries to 2 decimals, then dots."""
    shown = [f"{v:.2f}" for v in values[:units]]
    if len(values) > units:
        shown.append(r"\dots")
    return r"\left[\," + r",\ ".join(shown) + r"\,\right]"


def _gate_line(gate: str, fn: str, v: Callable[[str], str]) -> str:
    r"""$g_t = \sigma(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})$ over its numbers, 2 lines."""
    return (
        rf"{gate}_t &= {fn}(\underbrace{{W_{{i{gate}}} x_t + b_{{i{gate}}}}}_{{{v('x_' + gate)}}}"
        rf" + \underbrace{{W_{{h{gate}}} h_{{t-1}} + b_{{h{gate}}}}}_{{{v('h_' + gate)}}})"
        rf" \\ &= {v(gate)}"
    )


def equations(kind: str, n: dict[str, np.ndarray], units: int) -> list[str]:
    """The cell's equations at one step in LaTeX (aligned blocks), with the step's numbers."""

    def v(name: str) -> str:
        return _vector(n[name], units)

    def aligned(*lines: str) -> str:
        return r"\begin{aligned}" + r" \\[4pt] ".join(lines) + r"\end{aligned}"

    if kind == "rnn":
        h = (
            r"h_t &= \tanh(\underbrace{W_{ih} x_t + b_{ih}}_{" + v("x_a") + r"}"
            r" + \underbrace{W_{hh} h_{t-1} + b_{hh}}_{" + v("h_a") + r"}) \\ &= " + v("h")
        )  # fmt: skip
        return [aligned(h)]
    if kind == "lstm":
        gates = [
            _gate_line(g, fn, v)
            for g, fn in zip("ifgo", (r"\sigma", r"\sigma", r"\tanh", r"\sigma"), strict=True)
        ]
        c = (
            r"c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\ &= " + v("f") + r" \odot " + v("c_prev")
            + r" \\ &\quad + " + v("i") + r" \odot " + v("g") + r" \\ &= " + v("c")
        )  # fmt: skip
        h = (
            r"h_t &= o_t \odot \tanh(c_t) \\ &= " + v("o") + r" \odot \tanh" + v("c")
            + r" \\ &= " + v("h")
        )  # fmt: skip
        return [aligned(*gates[:2]), aligned(*gates[2:]), aligned(c, h)]
    gates = [_gate_line(g, r"\sigma", v) for g in "rz"]
    n_line = (
        r"n_t &= \tanh(\underbrace{W_{in} x_t + b_{in}}_{" + v("x_n") + r"} + r_t \odot"
        r" \underbrace{(W_{hn} h_{t-1} + b_{hn})}_{" + v("h_n") + r"}) \\ &= " + v("n")
    )  # fmt: skip
    h = r"h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1} \\ &= " + v("h")
    return [aligned(*gates), aligned(n_line, h)]


DEPENDENCE = 1e-4  # |Δh_t| per unit nudge below this: h_t does not depend on that input
RECOMPUTE_TOLERANCE = 1e-5  # float32 rounding of one cell step


def unrolled_verdict(
    kind: str, weights: Sequence[Tensor], x: Tensor, trace: N.Trace, t: int
) -> Verdict:
    """h_t recomputed from x_t and h_{t-1} alone equals the unrolled net's h_t, and moves when
    either of them is nudged (finite differences, float64)."""
    w64 = [w.double() for w in weights]
    H = w64[1].shape[1]
    state = {
        k: (v.double() if v is not None else None) for k, v in previous_state(trace, t, H).items()
    }
    x_t = x[t - 1].double()  # (1, I)
    h_t = one_step_of(kind, w64, x_t, state)  # (1, H)
    error = (h_t - trace["h"][t - 1].double()).abs().max().item()
    eps = 1e-6
    dx = (one_step_of(kind, w64, x_t + eps, state) - h_t).abs().max().item() / eps
    nudged = dict(state, h=state["h"] + eps)
    dh = (one_step_of(kind, w64, x_t, nudged) - h_t).abs().max().item() / eps
    held = error <= RECOMPUTE_TOLERANCE and dx > DEPENDENCE and dh > DEPENDENCE
    failed = "recompute" if error > RECOMPUTE_TOLERANCE else "claim"
    return Verdict.judge(held, failed, t=t, error=error, dx=dx, dh=dh)


GATE_RANGE = 1e-6  # float32 sigmoids reach 0 and 1 exactly only in saturation


def gates_verdict(traces: dict[str, N.Trace]) -> Verdict:
    """The gates of the LSTM and GRU traces lie in their ranges and combine as the equations say:
    c_t = f c_{t-1} + i g and h_t = o tanh c_t (LSTM), h_t = (1 - z) n + z h_{t-1} (GRU)."""
    lstm, gru = traces["lstm"], traces["gru"]
    zeros = lstm["c"][:1] * 0
    c_prev = torch.cat((zeros, lstm["c"][:-1]))
    error = max(
        (lstm["c"] - (lstm["f"] * c_prev + lstm["i"] * lstm["g"])).abs().max().item(),
        (lstm["h"] - lstm["o"] * torch.tanh(lstm["c"])).abs().max().item(),
    )
    h_prev = torch.cat((gru["h"][:1] * 0, gru["h"][:-1]))
    error = max(
        error, (gru["h"] - ((1 - gru["z"]) * gru["n"] + gru["z"] * h_prev)).abs().max().item()
    )
    gates = [lstm[k] for k in "ifo"] + [gru[k] for k in "zr"]
    outside = max(
        max((-g).max().item(), (g - 1).max().item(), 0.0) for g in gates
    )  # how far any gate leaves [0, 1]
    held = error <= RECOMPUTE_TOLERANCE and outside <= GATE_RANGE
    return Verdict.judge(held, "claim", error=error, steps=lstm["h"].shape[0])


SERIES_GAIN = 1.0  # the best cell must do better than the naive forecast (ratio below this)


def series_verdict(finished: bool, scores: dict[str, float], naive: float, text: bool) -> Verdict:
    """After training, the best cell predicts the held-out part better than the naive forecast:
    lower MSE than repeating the last value, or (text) higher accuracy than the commonest char."""
    if not finished:
        return Verdict.pending()
    finite = {k: v for k, v in scores.items() if math.isfinite(v)}
    if not finite:
        return Verdict.judge(False, "diverged")
    best = (max if text else min)(finite, key=finite.get)
    score = finite[best]
    held = score > naive if text else score < naive * SERIES_GAIN
    return Verdict.judge(
        held, "text" if text else "claim", cell=best.upper(), score=score, naive=naive
    )


# --- the long-memory task --------------------------------------------------------------------


@dataclass(frozen=True)
class MemorySettings:
    """Everything that decides a long-memory sweep (hashable: its results are shared by it)."""

    lags: tuple[int, ...]
    seeds: int
    gate_bias: bool  # gated cells start with their memory open (see `memory_model`)
    epochs: int = 60
    hidden: int = 8
    lr: float = 0.02
    train: int = 256
    test: int = 128


def memory_lags(longest: int) -> tuple[int, ...]:
    """Four lags up to `longest`: a sixth, a third, two thirds of it, and itself."""
    return tuple(sorted({max(2, round(longest * f)) for f in (1 / 6, 1 / 3, 2 / 3)} | {longest}))


def memory_task(lag: int, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """X (n, lag, 2), y (n,): recall the first bit after `lag` steps of random distractor bits.

    Channel 0 holds a random ±1 bit at every step, channel 1 marks the first step (1, else 0);
    the class is the first step's bit. Nothing after the first step tells anything about it.
    """
    g = torch.Generator().manual_seed(int(seed))
    X = torch.zeros(n, lag, 2)
    X[:, :, 0] = torch.randint(0, 2, (n, lag), generator=g).float() * 2 - 1
    X[:, 0, 1] = 1.0
    return X, (X[:, 0, 0] > 0).long()


FORGET_BIAS, INPUT_BIAS = 3.0, -2.0


def memory_model(
    kind: str, settings: MemorySettings, seed: int, device: torch.device | str = "cpu"
) -> N.SequenceModel:
    """The cell for the memory task. With `gate_bias`, gated cells start remembering: the LSTM's
    forget gate open (bias +3, f ≈ 0.95) and its input gate mostly shut (-2), the GRU's update
    gate near 1 (+3, keep the old state). Common initialisations for long memory."""
    model = N.SequenceModel(kind, 2, settings.hidden, 1, seed, device)
    H, b_hh = settings.hidden, model.params[3]
    if settings.gate_bias and kind == "lstm":
        b_hh[H : 2 * H] += FORGET_BIAS  # i, f, g, o: the f block
        b_hh[:H] += INPUT_BIAS
    elif settings.gate_bias and kind == "gru":
        b_hh[H : 2 * H] += FORGET_BIAS  # r, z, n: the z block
    return model


def memory_members(settings: MemorySettings) -> list[tuple[int, str, int]]:
    """(lag, kind, seed) of every member of the sweep, in the job's order."""
    return [(lag, k, s) for lag in settings.lags for k in KINDS for s in range(settings.seeds)]


def memory_trainer(
    settings: MemorySettings, lag: int, kind: str, seed: int, device: torch.device | str = "cpu"
) -> training.Trainer:
    X, y = memory_task(lag, settings.train + settings.test, 1000 + seed)
    data = training.Data(
        X[: settings.train], y[: settings.train], X[settings.train :], y[settings.train :],
        "binary", 2,
    )  # fmt: skip
    setup = training.Setup((), "tanh", "adam", settings.lr, BATCH, seed=seed)
    model = memory_model(kind, settings, seed, device)
    return training.Trainer(data, setup, device=device, model=model)


def memory_job(settings: MemorySettings, device: torch.device | str = "cpu") -> training.Sweep:
    """Every lag × cell × seed of the memory task as one job for the engine."""
    members = memory_members(settings)
    return training.Sweep([memory_trainer(settings, *m, device=device) for m in members])


@dataclass(frozen=True, eq=False)
class MemoryResult:
    """A finished sweep: test accuracy (lags, kinds, seeds), and the weights of each cell's
    seed-0 model at the longest lag (for the gradient view)."""

    settings: MemorySettings
    accuracy: np.ndarray
    weights: dict[str, list[Tensor]] = field(default_factory=dict)


def memory_result(settings: MemorySettings, sweep: training.Sweep) -> MemoryResult:
    shape = (len(settings.lags), len(KINDS), settings.seeds)
    acc = np.array([m.history.test_accuracy[-1] for m in sweep.members]).reshape(shape)
    weights = {}
    for (lag, kind, seed), member in zip(memory_members(settings), sweep.members, strict=True):
        if lag == settings.lags[-1] and seed == 0:
            weights[kind] = [p.detach().cpu().clone() for p in member.net.parameters()]
    return MemoryResult(settings, acc, weights)


def latest_accuracy(settings: MemorySettings, history: dict[str, list]) -> np.ndarray:
    """(lags, kinds, seeds) each member's newest test accuracy in a sweep's long history; NaN
    for a member not yet evaluated."""
    acc = np.full(len(memory_members(settings)), np.nan)
    for member, value in zip(history["member"], history["test_accuracy"], strict=True):
        acc[member] = value  # rows come in order: the last one of a member is its newest
    return acc.reshape(len(settings.lags), len(KINDS), settings.seeds)


MEMORY_RESULTS = ResultStore(size=64)  # finished memory sweeps, by their MemorySettings
REMEMBERS = 0.9  # mean test accuracy at which a cell recalls the bit (chance: 0.5)
FORGETS = 0.75  # below this mean accuracy a cell has not learnt to recall it


def memory_verdict(result: MemoryResult | None) -> Verdict:
    """Plain RNNs struggle at the longest lag (mean accuracy < 0.75) while a gated cell copes
    (>= 0.9), and the RNN does recall at the shortest lag (it is the lag, not the task)."""
    if result is None:
        return Verdict.pending()
    mean = result.accuracy.mean(axis=2)  # (lags, kinds)
    rnn_short, rnn_long = mean[0, 0], mean[-1, 0]
    gated = max(mean[-1, 1], mean[-1, 2])
    values = {
        "short": result.settings.lags[0], "long": result.settings.lags[-1],
        "rnn_short": rnn_short, "rnn_long": rnn_long, "gated": gated,
    }  # fmt: skip
    if rnn_long >= FORGETS:
        return Verdict.judge(False, "lag", **values)
    if gated < REMEMBERS:
        return Verdict.judge(False, "bias" if not result.settings.gate_bias else "gated", **values)
    return Verdict.judge(rnn_short >= REMEMBERS, "short", **values)


# --- gradients through time ------------------------------------------------------------------


def gradient_norms(model: N.SequenceModel, X: Tensor, y: Tensor) -> np.ndarray:
    r"""(T,) $\lVert\partial L/\partial h_t\rVert$ of the memory task's loss, by hand (BPTT)."""
    loss = losses.get("bce_with_logits")
    with torch.inference_mode():
        out = model.forward(X)  # (N, 1)
        grads = model.backward(loss.gradient(out, y.reshape(-1, 1).to(out)))
    return grads["dh_norms"].double().numpy()


def kept_fraction(norms: np.ndarray) -> float:
    r"""$\lVert\partial L/\partial h_1\rVert / \lVert\partial L/\partial h_T\rVert$: the share of
    the last step's gradient that reaches the first step."""
    return float(norms[0] / norms[-1]) if norms[-1] > 0 else 0.0


GRADIENT_GAP = 100.0  # a gated cell keeps at least this many times more of the gradient


def gradient_verdict(kept: dict[str, float], gate_bias: bool) -> Verdict:
    """Over T steps a gated cell keeps far more of the gradient than the plain RNN does."""
    gated = max(kept["lstm"], kept["gru"])
    held = gated >= GRADIENT_GAP * kept["rnn"]
    failed = "claim" if gate_bias else "bias"
    return Verdict.judge(held, failed, rnn=kept["rnn"], gated=gated, gap=GRADIENT_GAP)


def _dout(model: N.SequenceModel, X: Tensor, y: Tensor) -> Tensor:
    """(T, N, H) dL/d outputs of the recurrent layer for the memory loss (read at the last step)."""
    loss = losses.get("bce_with_logits")
    dY = loss.gradient(model.predict(X), y.reshape(-1, 1).to(X))  # (N, 1)
    W_out = model.params[4]  # (H, 1)
    dout = X.new_zeros(X.shape[1], X.shape[0], model.hidden)  # (T, N, H)
    dout[-1] = dY @ W_out.T  # (N, 1) @ (1, H) -> (N, H)
    return dout


def gradient_check(model: N.SequenceModel, X: Tensor, y: Tensor) -> float:
    """Largest gap between our ‖∂L/∂h_t‖ and autograd's through torch.nn's cell, relative."""
    ours = torch.as_tensor(gradient_norms(model, X, y))
    with torch.no_grad():
        dout = _dout(model, X, y)
    x, h0 = X.transpose(0, 1), X.new_zeros(X.shape[0], model.hidden)
    c0 = h0 if model.kind == "lstm" else None
    theirs = reference_rnn.gradients(model.kind, dout, x, h0, model.params[:4], c0)["dh_norms"]
    return (
        ((ours - theirs.double()).abs() / theirs.double().abs().max().clamp(min=1e-30)).max().item()
    )


def pytorch_diffs(trainer: training.Trainer, x: Tensor, X: Tensor) -> dict[str, float]:
    """Our forward and gate trace over x (T, 1, I) against torch.nn's, and our gradients on the
    windows X (N, W, I) against autograd, for the trainer's model (its own loss)."""
    model = trainer.net
    weights = model.params[:4]
    x = x.to(weights[0])
    h0 = x.new_zeros(1, model.hidden)
    c0 = h0 if model.kind == "lstm" else None
    ours = run_cell(model, x)
    out, _ = reference_rnn.forward(model.kind, x, h0, weights, c0)
    theirs = reference_rnn.trace(model.kind, x, h0, weights, c0)
    gates = max((ours[k] - theirs[k]).abs().max().item() for k in theirs)
    X, T = X.to(weights[0]), trainer.T_train[: X.shape[0]]
    with torch.no_grad():  # not inference mode: autograd takes dY for the twin below
        dY = trainer.loss.gradient(model.forward(X), T)  # the forward caches what backward needs
        grads = model.backward(dY)
    auto = reference_rnn.model_gradients(model, X, dY)
    names = ("W_ih", "W_hh", "b_ih", "b_hh", "W_out", "b_out")
    gradients = max((grads[n] - a).abs().max().item() for n, a in zip(names, auto, strict=True))
    return {"forward": (ours["h"] - out).abs().max().item(), "gates": gates, "gradients": gradients}


# --- exports ---------------------------------------------------------------------------------

PARAMETER_NAMES = ("W_ih", "W_hh", "b_ih", "b_hh", "W_out", "b_out")
TORCH_KEYS = (
    "recurrent.weight_ih_l0", "recurrent.weight_hh_l0", "recurrent.bias_ih_l0",
    "recurrent.bias_hh_l0", "head.weight", "head.bias",
)  # fmt: skip


def weights_json(prep: NextStep, sweep: training.Sweep) -> str:
    """The three trained nets as JSON, with the data's scaling or characters."""
    doc = {
        "format": "dl-cheatsheet RNN lab: torch.nn gate order (LSTM i,f,g,o; GRU r,z,n), "
        "W_ih (G*H, I), W_hh (G*H, H), y = h_T @ W_out + b_out",
        "window": prep.window,
        "inputs": prep.inputs,
        "mean": prep.mean,
        "std": prep.std,
        "characters": list(prep.series.vocab),
        "epochs_trained": sweep.epoch,
        "models": {
            kind: {n: p.tolist() for n, p in zip(PARAMETER_NAMES, m.net.parameters(), strict=True)}
            for kind, m in zip(KINDS, sweep.members, strict=True)
        },
    }
    return json.dumps(doc, indent=1, ensure_ascii=False)


def state_dicts(sweep: training.Sweep) -> dict[str, dict[str, Tensor]]:
    """Per cell, the state_dict of the torch.nn twin (a recurrent module and an nn.Linear)."""
    states = {}
    for kind, member in zip(KINDS, sweep.members, strict=True):
        params = [p.detach().cpu().clone() for p in member.net.parameters()]
        params[4] = params[4].T.contiguous()  # nn.Linear keeps W as (out, in)
        states[kind] = dict(zip(TORCH_KEYS, params, strict=True))
    return states


def state_dict_bytes(sweep: training.Sweep) -> bytes:
    buffer = io.BytesIO()
    torch.save(state_dicts(sweep), buffer)
    return buffer.getvalue()


def twin_code(prep: NextStep, hidden: int, file_name: str) -> str:
    """Python that rebuilds the three nets in torch.nn and loads the exported state_dicts."""
    return (
        "import torch\nfrom torch import nn\n\n"
        "class NextStep(nn.Module):\n"
        "    def __init__(self, kind, inputs, hidden, outputs):\n"
        "        super().__init__()\n"
        '        cell = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]\n'
        "        self.recurrent = cell(inputs, hidden, batch_first=True)\n"
        "        self.head = nn.Linear(hidden, outputs)\n\n"
        "    def forward(self, x):  # x: (N, T, inputs) -> (N, outputs), read at the last step\n"
        "        out, _ = self.recurrent(x)\n"
        "        return self.head(out[:, -1])\n\n"
        f'states = torch.load("{file_name}")\n'
        f"models = {{kind: NextStep(kind, {prep.inputs}, {hidden}, {prep.outputs}) "
        'for kind in ("rnn", "lstm", "gru")}\n'
        "for kind, model in models.items():\n"
        "    model.load_state_dict(states[kind])\n"
    )


def history_csv(sweep: training.Sweep) -> str:
    """Cell, epoch, train and test loss (and accuracy for text), one row per cell and epoch."""
    table = pd.DataFrame(sweep.history.columns())
    table.insert(0, "cell", [KINDS[i] for i in table.pop("member")])
    return table.dropna(axis=1, how="all").to_csv(index=False)
