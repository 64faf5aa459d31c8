"""CNN lab: convolution, feature maps and pooling on your images; a CNN trained on digits."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st
import torch

from dlcore import conv, optim, training
from dlcore.reference import conv as reference_conv
from ui import cnn, i18n, uploads
from ui.engine import LiveRun, engine, owner
from ui.figures import cnn as figures
from ui.figures import playground as curves
from ui.page import Frame, RunActions
from ui.verdict import Verdict

VIEWS = ("filters", "compose", "pool", "train", "sweep", "shapes")
DEFAULT_FILTERS = ["sobel_x", "sobel_y", "laplacian", "sharpen"]
# The custom kernel's starting cells: a diagonal edge detector, unlike any preset.
CUSTOM_START = (0.0, 1.0, 2.0, -1.0, 0.0, 1.0, -2.0, -1.0, 0.0)
MAX_STAGES = 4
CHANNELS = (2, 4, 8, 16, 32, 64)
DEFAULT_CHANNELS = (8, 16, 32, 64)
LEARNING_RATES = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)
BATCH_SIZES = (8, 16, 32, 64, 128, 256)
EPOCHS = (1, 2, 3, 5, 10, 15, 20, 30, 50)
SWEEP_EPOCHS = (2, 3, 4, 6, 8, 10, 15)
SHIFTS = range(1, 7)  # the shift curve's x axis, in pixels
GRADIENT_ROWS = 64
# The pooling claim's runs: one setting for all, only the pooling differs (ui.cnn.POOL_CHOICES).
SWEEP_SETUP = training.Setup((), "relu", "adam", 0.003, 32)
# One-click set-ups for the claims of the page: each starts from the defaults.
PRESETS: dict[str, dict[str, Any]] = {
    "slide": {"view": "filters", "filters": ["sobel_x"], "stride": 2, "padding": 0},
    "many": {"view": "filters"},
    "compose": {"view": "compose"},
    "pool": {"view": "pool"},
    "overlap": {"view": "sweep"},
    "depth": {"view": "shapes", "stages": 3},
    "learn": {"view": "train"},
}
PAD_TOOLS_REMOVED = ["zoom2d", "pan2d", "zoomIn2d", "zoomOut2d", "autoScale2d", "resetScale2d",
                     "toImage"]  # fmt: skip
RUN_KEY, SWEEP_KEY, DIGIT_KEY, PAD_VERSION = "_cnn_run", "_cnn_sweep", "_digit", "_digit_pad"


# --- controls ----------------------------------------------------------------------------------


@st.cache_resource(max_entries=64, show_spinner=False)
def builtin_image(source: str, side: int) -> torch.Tensor:
    """A photo or pattern as (1, 1, H, W) grey, shared by every session (read, never written)."""
    pixels = cnn.photo(source) if source in cnn.PHOTOS else cnn.pattern(source)
    return cnn.image_tensor(pixels, side)


def uploaded_image(frame: Frame, side: int) -> torch.Tensor | None:
    """The learner's picture, checked and kept in this session only; None until it is usable."""
    words = i18n.texts("uploads", frame.lang)
    limit_mb = uploads.IMAGE_MAX_BYTES / 1e6
    st.caption(words["image_hint"].format(limit_mb=limit_mb, side=uploads.IMAGE_MAX_SIDE))
    file = st.file_uploader(frame.t("image_upload"), type=None, key="image_file")
    if file is None:
        st.info(frame.t("image_waiting"))
        return None
    try:
        image = _read_once(file, "_image_upload")
    except uploads.UploadError as err:
        st.error(uploads.message(err, frame.lang), icon=":material/error:")
        return None
    mode = words["image_mode_grey" if image.grey else "image_mode_rgb"]
    (width, height), (used_w, used_h) = image.original, image.size
    key = "image_read_as" if image.resized else "image_read_as_same"
    st.caption(
        words[key].format(
            format=image.format, mode=mode, width=width, height=height, used_w=used_w, used_h=used_h
        )
    )
    return cnn.image_tensor(image.pixels, side)


def _read_once(file: Any, slot: str) -> uploads.ImageUpload:
    """read_image of an upload, kept in the session until another file arrives (or an error)."""
    cached = st.session_state.get(slot)
    if cached is None or cached[0] != file.file_id:
        try:
            cached = (file.file_id, uploads.read_image(file.getvalue(), file.name))
        except uploads.UploadError as err:
            cached = (file.file_id, err)
        st.session_state[slot] = cached
    if isinstance(cached[1], uploads.UploadError):
        raise cached[1]
    return cached[1]


def image_controls(frame: Frame) -> torch.Tensor | None:
    """The picture the filters see: a photo, a pattern or an upload, at most `side` a side."""
    source_col, side_col = st.columns(2)
    with source_col:
        source = frame.select(
            "image",
            frame.t("image"),
            cnn.SOURCES,
            "china",
            format_func=lambda s: frame.t(f"image_{s}"),
        )
    with side_col:
        side = frame.select_slider(
            "side", frame.t("side"), cnn.MAX_SIDES, 128, help=frame.t("side_help")
        )
    if source == cnn.UPLOAD:
        return uploaded_image(frame, side)
    return builtin_image(source, side)


def _filter_label(frame: Frame) -> Callable[[str], str]:
    return lambda name: frame.t(f"filter_{name}")


def custom_kernel(frame: Frame) -> list[float]:
    """The editable 3x3 grid, row by row, each cell bound to the URL (k0 ... k8)."""
    st.markdown(frame.t("custom_title"))
    cells = []
    for r in range(cnn.KERNEL_SIZE):
        for c, column in enumerate(st.columns(cnn.KERNEL_SIZE)):
            i = r * cnn.KERNEL_SIZE + c
            with column:
                cells.append(
                    frame.number(
                        f"k{i}",
                        frame.t("cell", row=r + 1, col=c + 1),
                        -cnn.KERNEL_LIMIT,
                        cnn.KERNEL_LIMIT,
                        CUSTOM_START[i],
                        step=0.5,
                        label_visibility="collapsed",
                    )
                )
    fill_col, button_col = st.columns([2, 1], vertical_alignment="bottom")
    with fill_col:
        start = frame.select(
            "fill", frame.t("fill"), list(cnn.KERNELS), "sharpen", format_func=_filter_label(frame)
        )
    button_col.button(frame.t("fill_button"), key="fill_grid", on_click=_fill, args=(start,))
    return [float(v) for v in cells]


def _fill(name: str) -> None:
    for i, value in enumerate(np.ravel(cnn.KERNELS[name])):
        st.session_state[f"k{i}"] = float(value)


def shape_formula(frame: Frame, hw: tuple[int, int], s: int, p: int, d: int) -> tuple[int, int]:
    """The output-shape formula with the current numbers, for height and width."""
    k = cnn.KERNEL_SIZE
    out = conv.output_shape(hw, k, s, p, d)
    rule = r"n_\text{out} &= \left\lfloor \frac{n_\text{in} + 2p - d(k-1) - 1}{s} \right\rfloor + 1"
    lines = [
        # The result first: on a phone the end of a long line runs off the screen.
        rf"{o}_o &= {m} = \left\lfloor \frac{{{n} + 2\cdot{p} - {d}\cdot({k}-1) - 1}}{{{s}}}"
        rf" \right\rfloor + 1"
        for o, n, m in (("H", hw[0], out[0]), ("W", hw[1], out[1]))
    ]
    st.latex(r"\begin{aligned}" + r" \\ ".join([rule, *lines]) + r"\end{aligned}")
    return out


# --- filters -----------------------------------------------------------------------------------


def filters_view(frame: Frame, x: torch.Tensor) -> None:
    st.markdown(frame.t("filters_claim"))
    controls, pictures = st.columns([1, 2], gap="large")
    with controls:
        names = frame.multiselect(
            "filters",
            frame.t("filters"),
            list(cnn.FILTER_NAMES),
            DEFAULT_FILTERS,
            help=frame.t("filters_help"),
        )  # the kernels' own names: a multiselect writes what it shows into the link
        custom = custom_kernel(frame) if cnn.CUSTOM in names else []
        stride = frame.slider("stride", frame.t("stride"), 1, 4, 1)
        padding = frame.slider("padding", frame.t("padding"), 0, 3, 1)
        dilation = frame.slider("dilation", frame.t("dilation"), 1, 3, 1)
    with pictures:
        if not names:
            st.info(frame.t("pick_filter"))
            return
        hw = (x.shape[2], x.shape[3])
        try:
            out_hw = shape_formula(frame, hw, stride, padding, dilation)
        except ValueError:
            st.error(frame.t("too_small", h=hw[0], w=hw[1], d=dilation), icon=":material/error:")
            return
        bank = cnn.filter_bank(names, custom)  # (F, 1, 3, 3)
        device = frame.device(x.numel() * len(names) * cnn.KERNEL_SIZE**2)
        z, a = cnn.feature_maps(x.to(device), bank, stride, padding, dilation)
        frame.ran_on(frame.t("filters_what"), device)
        theirs = reference_conv.conv2d(x, bank, None, stride, padding, dilation)[0]
        diff = (z.cpu() - theirs).abs().max().item()
        scale = theirs.abs().max().item()
        frame.check(frame.t("check_conv"), diff, cnn.AGREE * max(1.0, scale))
        labels = [frame.t(f"filter_{n}") for n in names]
        feature_figures(frame, x, z.cpu().numpy(), a.cpu().numpy(), labels, bank)
        frame.verdict("slide", cnn.conv_verdict(out_hw, tuple(z.shape[1:]), diff, scale))
        negative = (z < 0).float().mean().item()
        frame.verdict("many", cnn.relu_verdict(len(names), z.shape[0], negative, a.min().item()))
    frame.show_code(conv.conv2d, conv.windows, conv.output_shape)


def feature_figures(
    frame: Frame,
    x: torch.Tensor,
    z: np.ndarray,
    a: np.ndarray,
    labels: list[str],
    bank: torch.Tensor,
) -> None:
    image_col, kernel_col = st.columns([3, 2])
    image_col.plotly_chart(
        figures.image(
            x[0, 0].numpy(), frame.t("input_title", h=x.shape[2], w=x.shape[3]), height=260
        ),
        key="chart_input",
    )
    kernel_col.plotly_chart(
        figures.kernels(bank[:, 0].numpy(), labels, frame.t("kernels_title"), columns=2),
        key="chart_kernels",
    )
    columns = min(len(labels), 4)
    shape = f"{z.shape[1]}×{z.shape[2]}"
    st.plotly_chart(
        figures.maps_grid(z, labels, frame.t("before_title", shape=shape), columns),
        key="chart_before",
    )
    st.plotly_chart(
        figures.maps_grid(a, labels, frame.t("after_title", shape=shape), columns, signed=False),
        key="chart_after",
    )
    st.caption(frame.t("maps_caption"))


# --- composition -------------------------------------------------------------------------------


def compose_view(frame: Frame, x: torch.Tensor) -> None:
    st.markdown(frame.t("compose_claim"))
    presets = list(cnn.KERNELS)
    first, second, between = st.columns(3, vertical_alignment="bottom")
    with first:
        k1 = frame.select(
            "k1", frame.t("k1"), presets, "gaussian", format_func=_filter_label(frame)
        )
    with second:
        k2 = frame.select("k2", frame.t("k2"), presets, "sobel_x", format_func=_filter_label(frame))
    with between:
        relu = frame.toggle("relu_between", frame.t("relu_between"), False)
    w1, w2 = cnn.kernel(k1), cnn.kernel(k2)
    result = cnn.composed(x, w1, w2, relu)
    frame.ran_on(frame.t("compose_what"), x.device)
    diff, scale = result["diff"].max().item(), result["two"].abs().max().item()
    small, big = st.columns([3, 2])
    small.plotly_chart(
        figures.kernels(
            np.stack([w1.numpy(), w2.numpy()]),
            [frame.t(f"filter_{k1}"), frame.t(f"filter_{k2}")],
            frame.t("two_kernels"),
        ),
        key="chart_two_kernels",
    )
    big.plotly_chart(
        figures.kernels(
            result["kernel"][None].numpy(), [frame.t("composed")], frame.t("composed_title")
        ),
        key="chart_composed",
    )
    maps = np.stack([t.numpy() for t in (result["two"], result["one"], result["diff"])])
    labels = [frame.t("two_steps"), frame.t("one_step"), frame.t("difference")]
    st.plotly_chart(
        figures.maps_grid(maps, labels, frame.t("compose_maps"), 3, peak=scale), key="chart_compose"
    )
    st.metric(frame.t("largest_difference"), f"{diff:.2e}", help=frame.t("difference_help"))
    frame.verdict("compose", cnn.compose_verdict(relu, diff, scale))
    # Ours against F.conv2d twice, in the same order.
    twice = reference_conv.conv2d(x, w1[None, None])
    twice = reference_conv.conv2d(twice.clamp_min(0) if relu else twice, w2[None, None])[0, 0]
    frame.check(
        frame.t("check_compose"),
        (result["two"] - twice).abs().max().item(),
        cnn.AGREE * max(1.0, scale),
    )
    frame.show_code(conv.compose_kernels, cnn.composed)


# --- pooling -----------------------------------------------------------------------------------


def pool_view(frame: Frame, x: torch.Tensor) -> None:
    st.markdown(frame.t("pool_claim"))
    controls = st.columns(5)
    with controls[0]:
        name = frame.select(
            "pool_filter",
            frame.t("pool_filter"),
            list(cnn.KERNELS),
            "sobel_x",
            format_func=_filter_label(frame),
        )
    with controls[1]:
        kind = frame.segmented(
            "pool_kind",
            frame.t("pool_kind"),
            conv.POOL_KINDS,
            "max",
            format_func=lambda k: frame.t(f"pool_{k}"),
        )
    with controls[2]:
        window = frame.slider("window", frame.t("window"), 1, 4, 2)
    with controls[3]:
        stride = frame.slider("pool_stride", frame.t("pool_stride"), 1, 4, 2)
    with controls[4]:
        shift = frame.slider("shift", frame.t("shift"), 0, 4, 1)
    w = cnn.kernel(name)[None, None]  # (1, 1, 3, 3)
    features = conv.conv2d(x, w, None, 1, 1).clamp_min(0)  # (1, 1, H, W)
    try:
        pooled = cnn.pool(features, kind, window, stride)
    except ValueError:
        st.error(frame.t("too_small_pool", h=x.shape[2], w=x.shape[3]), icon=":material/error:")
        return
    frame.ran_on(frame.t("pool_what"), x.device)
    in_hw, out_hw = tuple(features.shape[2:]), tuple(pooled.shape[2:])
    overlap = frame.t("overlapping" if stride < window else "not_overlapping")
    st.caption(
        frame.t("pool_shapes", h=in_hw[0], w=in_hw[1], ho=out_hw[0], wo=out_hw[1], overlap=overlap)
    )
    left, right = st.columns(2)
    left.plotly_chart(
        figures.maps_grid(
            features[0].numpy(),
            [""],
            frame.t("pool_before", h=in_hw[0], w=in_hw[1]),
            1,
            signed=False,
            height=300,
        ),
        key="chart_pool_in",
    )
    right.plotly_chart(
        figures.maps_grid(
            pooled[0].numpy(),
            [""],
            frame.t("pool_after", h=out_hw[0], w=out_hw[1]),
            1,
            signed=False,
            height=300,
        ),
        key="chart_pool_out",
    )
    before, after = cnn.shift_change(x, w, shift, kind, window, stride)
    shift_metrics(frame, shift, before, after)
    changes = np.array([cnn.shift_change(x, w, k, kind, window, stride) for k in SHIFTS])
    st.plotly_chart(
        figures.shift_curves(
            np.array(SHIFTS),
            changes[:, 0],
            changes[:, 1],
            (frame.t("change_before"), frame.t("change_after")),
            frame.t("shift_title"),
            frame.t("shift_axis"),
            frame.t("change_axis"),
        ),
        key="chart_shift",
    )
    frame.verdict("pool", cnn.pool_verdict(in_hw, out_hw, shift, before, after))
    theirs = (reference_conv.max_pool2d if kind == "max" else reference_conv.avg_pool2d)(
        features, window, stride
    )
    frame.check(frame.t("check_pool", kind=kind), (pooled - theirs).abs().max().item(), 1e-6)
    pool_fn = conv.max_pool2d if kind == "max" else conv.avg_pool2d
    frame.show_code(pool_fn, cnn.shift_change)


def shift_metrics(frame: Frame, shift: int, before: float, after: float) -> None:
    left, right = st.columns(2)
    left.metric(frame.t("change_before_k", k=shift), f"{before:.3f}")
    right.metric(
        frame.t("change_after_k", k=shift),
        f"{after:.3f}",
        delta=f"{after - before:+.3f}",
        delta_color="inverse",
    )


# --- the network's shape -----------------------------------------------------------------------


def arch_controls(frame: Frame) -> cnn.Arch:
    """Stages and their feature maps, kernel and pooling: shared by training and shapes."""
    stages = frame.slider("stages", frame.t("stages"), 1, MAX_STAGES, 2)
    columns = st.columns(2)
    channels = []
    for i in range(stages):
        with columns[i % 2]:
            channels.append(
                frame.select_slider(
                    f"ch{i + 1}", frame.t("channels", i=i + 1), CHANNELS, DEFAULT_CHANNELS[i]
                )
            )
    left, middle, right = st.columns(3)
    with left:
        kernel = frame.segmented("kernel", frame.t("kernel"), (3, 5), 3)
    with middle:
        kind = frame.segmented(
            "cnn_pool",
            frame.t("pool_kind"),
            conv.POOL_KINDS,
            "max",
            format_func=lambda k: frame.t(f"pool_{k}"),
        )
    with right:
        window = frame.segmented("cnn_window", frame.t("window"), (2, 3), 2)
    stride = frame.segmented("cnn_stride", frame.t("pool_stride"), (1, 2, 3), 2)
    return cnn.Arch(tuple(int(c) for c in channels), int(kernel), kind, int(window), int(stride))


def arch_problem(frame: Frame, arch: cnn.Arch) -> str | None:
    """Why these stages do not fit a 16 x 16 digit, or None when they do."""
    try:
        cnn.layer_table(arch)
    except ValueError:
        return frame.t(
            "arch_too_deep", stages=len(arch.channels), window=arch.pool, stride=arch.pool_stride
        )
    return None


def shapes_table(frame: Frame, arch: cnn.Arch) -> None:
    rows = cnn.layer_table(arch)
    header = [frame.t("shape_layer"), frame.t("shape_output"), frame.t("shape_params")]
    lines = [header, ["---"] * 3]
    for name, shape, params in rows:
        lines.append([name, "×".join(str(n) for n in shape), f"{params:,}"])
    total = sum(p for *_, p in rows)
    lines.append([f"**{frame.t('shape_total')}**", "", f"**{total:,}**"])
    st.markdown("\n".join("| " + " | ".join(cells) + " |" for cells in lines))
    frame.verdict("depth", cnn.depth_verdict(rows))


def shapes_view(frame: Frame) -> None:
    st.markdown(frame.t("shapes_claim"))
    controls, table = st.columns([1, 1], gap="large")
    with controls:
        arch = arch_controls(frame)
    with table:
        problem = arch_problem(frame, arch)
        if problem:
            st.error(problem, icon=":material/error:")
            return
        shapes_table(frame, arch)
    frame.check(frame.t("check_twin"), cnn.twin_difference(arch), 1e-9)
    frame.show_code(conv.SmallCNN.layer_shapes, conv.output_size)


# --- training runs -----------------------------------------------------------------------------


def setup_controls(frame: Frame) -> tuple[training.Setup, int]:
    left, right = st.columns(2)
    with left:
        opt = frame.select("opt", frame.t("optimizer"), optim.NAMES, "adam")
        lr = frame.select_slider("lr", frame.t("lr"), LEARNING_RATES, 0.003)
        seed = frame.number("seed", frame.t("seed"), 0, 9_999, 0)
    with right:
        batch = frame.select_slider("batch", frame.t("batch"), BATCH_SIZES, 32)
        epochs = frame.select_slider("epochs", frame.t("epochs"), EPOCHS, 10)
    setup = training.Setup((), "relu", opt, float(lr), int(batch), seed=int(seed))
    return setup, int(epochs)


def live_run(
    frame: Frame,
    slot: str,
    key: tuple,
    make: Callable[[torch.device], Any],
    workload: int,
    page: str,
) -> LiveRun:
    """This session's run in `slot` for `key`: a new one, make(device), when the key changed."""
    engine()  # started with the page, so that the first "Train" finds its workers ready
    run = st.session_state.get(slot)
    if run is not None and run.key != key:
        run.drop(engine())  # a setting changed: nobody wants that run's worker copy back
    if run is None or run.key != key:
        run = LiveRun(key, make(frame.device(workload)), owner(page))
        st.session_state[slot] = run
    return run


def run_buttons(frame: Frame, run: LiveRun, epochs: int, slot: str, prefix: str = "") -> None:
    actions = RunActions(
        train=functools.partial(_train, run, epochs),
        pause=functools.partial(run.pause, engine(), epochs),
        step=functools.partial(run.step, engine(), epochs),
        restart=functools.partial(_restart, slot),
    )
    frame.run_buttons(run, epochs, actions, prefix)


def _train(run: LiveRun, epochs: int) -> None:
    if run.can_train(epochs):  # a replayed click must not queue a run twice
        run.start(engine(), epochs)


def _restart(slot: str) -> None:
    run = st.session_state.pop(slot, None)
    if run is not None:
        run.drop(engine())


def status(frame: Frame, run: LiveRun, epochs: int, cells: list[tuple[str, float, bool]]) -> None:
    epoch = run.job.epoch
    st.progress(min(epoch / epochs, 1.0), text=frame.t("progress", epoch=epoch, epochs=epochs))
    frame.metrics(cells)
    frame.run_status(run)


def live(frame: Frame, run: LiveRun, epochs: int, draw: Callable[[], None]) -> None:
    """draw() redrawn from the worker's reports while it trains (a fragment on a timer)."""

    @frame.live(run)
    def results() -> None:
        if run.running:
            run.poll(engine(), epochs)
            if not run.running or frame.redraw_pace_changed(run):
                st.rerun()  # stop the timer, or set it to the server's new pace
        draw()

    results()


# --- training a CNN on the digits ---------------------------------------------------------------


def train_view(frame: Frame) -> None:
    st.markdown(frame.t("train_claim"))
    st.caption(frame.t("digits_note"))
    controls, results = st.columns([1, 2.2], gap="large")
    with controls:
        arch = arch_controls(frame)
        setup, epochs = setup_controls(frame)
    with results:
        problem = arch_problem(frame, arch)
        if problem:
            st.error(problem, icon=":material/error:")
            return
        rows = cnn.digits(setup.seed).X_train.shape[0]
        run = live_run(
            frame,
            RUN_KEY,
            (arch, setup),
            lambda device: cnn.trainer(arch, setup, device),
            arch.workload(rows),
            "cnn",
        )
        frame.ran_on(frame.t("training_what"), run.job.X_train.device)
        run_buttons(frame, run, epochs, RUN_KEY)
        sample = frame.slider(
            "sample", frame.t("sample"), 0, cnn.digits(setup.seed).X_test.shape[0] - 1, 0
        )
        live(frame, run, epochs, lambda: train_results(frame, run, epochs, sample))
    digit_pad(frame, run, sample)
    if not run.running:  # the mirror lacks the optimizer state while a worker trains
        train_checks(frame, run, arch, setup)
        exports(frame, run)


def train_results(frame: Frame, run: LiveRun, epochs: int, sample: int) -> None:
    t, h = run.job, run.job.history
    status(
        frame,
        run,
        epochs,
        [
            (frame.t("train_loss"), h.train_loss[-1], False),
            (frame.t("test_loss"), h.test_loss[-1], False),
            (frame.t("train_acc"), h.train_accuracy[-1], True),
            (frame.t("test_acc"), h.test_accuracy[-1], True),
        ],
    )
    x_epochs = np.asarray(h.epoch, dtype=np.float32)
    loss_col, acc_col = st.columns(2)
    for col, name, train, test in (
        (loss_col, "loss", h.train_loss, h.test_loss),
        (acc_col, "acc", h.train_accuracy, h.test_accuracy),
    ):
        series = {
            frame.t(f"train_{name}"): np.asarray(train),
            frame.t(f"test_{name}"): np.asarray(test),
        }
        col.plotly_chart(
            curves.history(
                x_epochs,
                series,
                title=frame.t(f"{name}_title"),
                x_title=frame.t("epoch"),
                y_title=frame.t(f"{name}_axis"),
                log_y=name == "loss",
                height=300,
            ),
            key=f"chart_{name}",
        )
    net = t.net
    filters = net.filters().detach().cpu()[:, 0].numpy()  # (F, k, k): the first layer, 1 channel
    st.plotly_chart(
        figures.maps_grid(
            filters,
            [str(i + 1) for i in range(len(filters))],
            frame.t("learned_title"),
            columns=8,
            height=None,
        ),
        key="chart_filters",
    )
    if not frame.light(run):  # a busy server: the inner maps wait until the run pauses or ends
        sample_maps(frame, t, sample)
    confusion(frame, t)
    finished = run.state == "done"
    change = cnn.filter_change(t)
    frame.verdict("learn", cnn.learned_verdict(finished, h.test_accuracy[-1], change))


def sample_maps(frame: Frame, t: training.Trainer, sample: int) -> None:
    x = t.X_test[sample]  # (1, 16, 16)
    stages = t.net.feature_maps(x)
    label = int(t.y_test[sample])
    guess = int(t.output(x[None]).argmax(dim=1).item())
    left, right = st.columns([1, 3])
    left.plotly_chart(
        figures.image(
            x[0].cpu().numpy(), frame.t("sample_title", label=label, guess=guess), height=260
        ),
        key="chart_sample",
    )
    maps = [s.relu.cpu().numpy() for s in stages[:2]]
    with right:
        for i, m in enumerate(maps):
            st.plotly_chart(
                figures.maps_grid(
                    m,
                    [str(j + 1) for j in range(len(m))],
                    frame.t("stage_title", stage=i + 1, h=m.shape[1], w=m.shape[2]),
                    columns=8,
                    signed=False,
                ),
                key=f"chart_stage{i + 1}",
            )


def confusion(frame: Frame, t: training.Trainer) -> None:
    predicted = training.predicted_class(t.task, t.output(t.X_test))
    matrix = training.confusion_matrix(t.y_test, predicted, cnn.DIGIT_CLASSES).cpu().numpy()
    st.plotly_chart(
        curves.confusion(
            matrix,
            [str(c) for c in range(cnn.DIGIT_CLASSES)],
            frame.t("confusion_title"),
            x_title=frame.t("predicted"),
            y_title=frame.t("true"),
        ),
        key="chart_confusion",
    )


# --- the learner's own digit --------------------------------------------------------------------


def _pad() -> np.ndarray:
    if DIGIT_KEY not in st.session_state:
        st.session_state[DIGIT_KEY] = np.zeros((cnn.DIGIT_NATIVE, cnn.DIGIT_NATIVE), np.float32)
    return st.session_state[DIGIT_KEY]


def _paint(chart_key: str) -> None:
    """Cells tapped or ringed on the pad: painted (or erased); a fresh pad drops the selection."""
    event = st.session_state.get(chart_key)
    picked = list(getattr(getattr(event, "selection", None), "point_indices", None) or [])
    cells = _pad().copy().ravel()
    ink = 0.0 if st.session_state.get("brush") == "erase" else 1.0
    cells[[i for i in picked if 0 <= int(i) < cells.size]] = ink
    st.session_state[DIGIT_KEY] = cells.reshape(cnn.DIGIT_NATIVE, cnn.DIGIT_NATIVE)
    st.session_state[PAD_VERSION] = st.session_state.get(PAD_VERSION, 0) + 1


def _clear() -> None:
    st.session_state[DIGIT_KEY] = np.zeros((cnn.DIGIT_NATIVE, cnn.DIGIT_NATIVE), np.float32)
    st.session_state[PAD_VERSION] = st.session_state.get(PAD_VERSION, 0) + 1


def _copy_sample(run: LiveRun, sample: int) -> None:
    """The chosen test digit, back at its native 8 x 8, onto the pad to edit."""
    st.session_state[DIGIT_KEY] = cnn.native_test_digit(run.job.setup.seed, sample)
    st.session_state[PAD_VERSION] = st.session_state.get(PAD_VERSION, 0) + 1


def digit_pad(frame: Frame, run: LiveRun, sample: int) -> None:
    """Draw a digit (tap or ring cells), or upload a picture of one, and the net reads it."""
    st.subheader(frame.t("pad_title"))
    st.markdown(frame.t("pad_how"))
    pad_col, tools_col, result_col = st.columns([2, 2, 3])
    with tools_col:
        frame.segmented(
            "brush",
            frame.t("brush"),
            ("paint", "erase"),
            "paint",
            format_func=lambda b: frame.t(f"brush_{b}"),
        )
        tool = frame.segmented(
            "pad_tool",
            frame.t("pad_tool"),
            tuple(figures.PAD_DRAGMODES),
            "tap",
            format_func=lambda b: frame.t(f"pad_tool_{b}"),
        )
        st.button(frame.t("clear"), key="pad_clear", on_click=_clear, icon=":material/delete:")
        st.button(
            frame.t("copy_sample", sample=sample),
            key="pad_copy",
            on_click=_copy_sample,
            args=(run, sample),
            icon=":material/content_copy:",
        )
        digit_upload(frame)
    cells = _pad()
    chart_key = f"digit_pad_{st.session_state.get(PAD_VERSION, 0)}"
    # A container with a fixed key: the chart's own key changes with every stroke.
    with pad_col, st.container(key="digit_pad"):
        st.plotly_chart(
            figures.drawing_grid(cells, frame.t("pad_chart"), tool),
            key=chart_key,
            on_select=lambda: _paint(chart_key),
            selection_mode=("points", "box", "lasso"),
            # The toolbar keeps only the two selection tools (the axes do not zoom or pan).
            config={"displaylogo": False, "modeBarButtonsToRemove": PAD_TOOLS_REMOVED},
        )
    with result_col:
        if not cells.any():
            st.info(frame.t("pad_empty"))
            return
        probs = cnn.classify(run.job.net, cells)
        best = int(np.argmax(probs))
        st.markdown(frame.t("pad_reads", digit=best, p=f"{100 * probs[best]:.0f}"))
        if run.job.epoch == 0:
            st.caption(frame.t("pad_untrained"))
        st.plotly_chart(
            figures.probabilities(
                probs, frame.t("probs_title"), frame.t("digit"), frame.t("probability")
            ),
            key="chart_probs",
        )


def digit_upload(frame: Frame) -> None:
    """A picture of one digit onto the pad: dark ink on light paper, or light on dark."""
    file = st.file_uploader(frame.t("digit_upload"), type=None, key="digit_file")
    if file is None:
        return
    try:
        image = _read_once(file, "_digit_upload")
    except uploads.UploadError as err:
        st.error(uploads.message(err, frame.lang), icon=":material/error:")
        return
    if st.session_state.get("_digit_from") != file.file_id:  # a new picture: onto the pad once
        st.session_state["_digit_from"] = file.file_id
        st.session_state[DIGIT_KEY] = cnn.digit_from_image(image.pixels)
        st.session_state[PAD_VERSION] = st.session_state.get(PAD_VERSION, 0) + 1
    st.caption(frame.t("digit_uploaded", w=image.original[0], h=image.original[1]))


# --- checks and exports --------------------------------------------------------------------------


def train_checks(frame: Frame, run: LiveRun, arch: cnn.Arch, setup: training.Setup) -> None:
    """Our gradients against autograd now, and our loss curve against torch.nn + torch.optim."""
    t = run.job
    frame.check(frame.t("check_gradients"), cnn.gradient_check(t, GRADIENT_ROWS), 1e-9)
    upto = min(t.epoch, cnn.CHECK_EPOCHS)
    if upto and run.extras.get("check", {}).get("upto") != upto:
        run.extras["check"] = {"upto": upto, **cnn.replay(arch, setup, upto)}
    check = run.extras.get("check", {})
    if check.get("epochs"):
        frame.check(frame.t("check_curve", epochs=check["epochs"]), check["diff"], 1e-9)
    frame.show_code(
        conv.SmallCNN.forward,
        conv.SmallCNN.gradients,
        conv.conv2d_backward,
        conv.max_pool2d_backward,
        training.Trainer.step,
    )


def exports(frame: Frame, run: LiveRun) -> None:
    t = run.job
    with st.expander(frame.t("export_title"), icon=":material/download:"):
        st.caption(frame.t("export_caption", epochs=t.epoch))
        json_col, pt_col, csv_col = st.columns(3)
        json_col.download_button(
            frame.t("export_json"),
            lambda: cnn.weights_json(t),
            file_name="cnn_model.json",
            mime="application/json",
            key="export_json",
            on_click="ignore",
        )
        pt_col.download_button(
            frame.t("export_state_dict"),
            lambda: cnn.state_dict_bytes(t),
            file_name="cnn_model.pt",
            mime="application/octet-stream",
            key="export_state_dict",
            on_click="ignore",
        )
        csv_col.download_button(
            frame.t("export_history"),
            lambda: cnn.history_csv(t.history),
            file_name="cnn_history.csv",
            mime="text/csv",
            key="export_history",
            on_click="ignore",
        )
        st.caption(frame.t("export_load"))
        st.code(cnn.sequential_code(t.net, "cnn_model.pt"), language="python")


# --- the pooling claim ---------------------------------------------------------------------------


def sweep_view(frame: Frame) -> None:
    st.markdown(frame.t("sweep_claim"))
    left, right = st.columns(2)
    with left:
        seeds = frame.slider("seeds", frame.t("seeds"), 2, 5, 3)
    with right:
        epochs = frame.select_slider("sweep_epochs", frame.t("epochs"), SWEEP_EPOCHS, 10)
    st.caption(frame.t("sweep_setup", lr=SWEEP_SETUP.lr, batch=SWEEP_SETUP.batch_size))
    rows = cnn.digits(0).X_train.shape[0]
    workload = cnn.Arch().workload(rows) * seeds * len(cnn.POOL_CHOICES)
    run = live_run(
        frame,
        SWEEP_KEY,
        ("sweep", seeds),
        lambda device: cnn.pooling_sweep(seeds, SWEEP_SETUP, device=device),
        workload,
        "cnn-sweep",
    )
    frame.ran_on(frame.t("sweep_what"), run.job.members[0].X_train.device)
    run_buttons(frame, run, epochs, SWEEP_KEY, prefix="sweep_")
    live(frame, run, epochs, lambda: sweep_results(frame, run, epochs, seeds))
    if not run.running:
        with st.expander(frame.t("export_title"), icon=":material/download:"):
            st.download_button(
                frame.t("export_history"),
                lambda: cnn.history_csv(run.job.history),
                file_name="cnn_pooling_sweep.csv",
                mime="text/csv",
                key="export_sweep",
                on_click="ignore",
            )
    frame.show_code(cnn.pooling_sweep, training.Sweep.run)


def sweep_results(frame: Frame, run: LiveRun, epochs: int, seeds: int) -> None:
    accuracies = cnn.sweep_accuracies(run.job, seeds)
    cells = [(frame.t(f"sweep_{k}"), float(v.mean()), True) for k, v in accuracies.items()]
    status(frame, run, epochs, cells)
    labels = {k: frame.t(f"sweep_{k}") for k in cnn.POOL_CHOICES}
    st.plotly_chart(
        figures.sweep(accuracies, labels, frame.t("sweep_title", seeds=seeds), frame.t("test_acc")),
        key="chart_sweep",
    )
    header = [
        frame.t("sweep_choice"),
        frame.t("sweep_mean"),
        frame.t("sweep_sd"),
        frame.t("sweep_each"),
    ]
    lines = [header, ["---"] * 4]
    for k, v in accuracies.items():
        each = ", ".join(f"{a:.3f}" for a in v)
        lines.append([labels[k], f"{v.mean():.3f}", f"{v.std():.3f}", each])
    st.markdown("\n".join("| " + " | ".join(c) + " |" for c in lines))
    verdict: Verdict = cnn.pooling_verdict(run.state == "done", accuracies)
    frame.verdict("overlap", verdict)


# --- the page ----------------------------------------------------------------------------------


def main() -> None:
    frame = Frame("cnn", PRESETS)
    frame.claims()
    view = frame.segmented(
        "view", frame.t("view"), VIEWS, "filters", format_func=lambda v: frame.t(f"view_{v}")
    )
    if view in ("filters", "compose", "pool"):
        x = image_controls(frame)
        if x is not None:
            {"filters": filters_view, "compose": compose_view, "pool": pool_view}[view](frame, x)
    elif view == "train":
        train_view(frame)
    elif view == "sweep":
        sweep_view(frame)
    else:
        shapes_view(frame)
    frame.finish()


main()
