"""The CNN lab's glue: images and kernels for dlcore, the digits, training jobs, verdicts, exports.

Files are read here (scikit-learn's sample photographs and digits, uploads through ui.uploads);
dlcore gets tensors. Verdicts are pure functions of computed results, one per claim of
CURRICULUM section 6, each tested where it holds and where it does not.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from dlcore import conv, datasets, training
from dlcore.reference import conv as reference_conv
from ui.verdict import Verdict

# --- images --------------------------------------------------------------------------------------

PHOTOS: tuple[str, ...] = ("china", "flower")  # scikit-learn's load_sample_images, in its wheel
PATTERNS: tuple[str, ...] = ("checkerboard", "circles", "stripes", "square")
UPLOAD = "upload"
SOURCES: tuple[str, ...] = (*PHOTOS, *PATTERNS, UPLOAD)
PATTERN_SIDE = 256
MAX_SIDES: tuple[int, ...] = (48, 64, 96, 128, 192, 256)


@functools.cache
def photo(name: str) -> np.ndarray:
    """One of scikit-learn's sample photographs, (H, W, 3) float32 in [0, 1] (427 x 640)."""
    from sklearn.datasets import load_sample_image  # read only when a photo is asked for

    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; valid: {', '.join(PHOTOS)}")
    pixels = load_sample_image(f"{name}.jpg").astype(np.float32) / 255.0
    pixels.setflags(write=False)  # shared by every session: nobody may draw on it
    return pixels


def pattern(name: str, side: int = PATTERN_SIDE) -> np.ndarray:
    """A generated grey test pattern, (side, side, 1) float32 in [0, 1]."""
    ij = np.indices((side, side), dtype=np.float32)  # (2, side, side): rows, columns
    r, c = ij / side
    if name == "checkerboard":
        grey = ((ij[0] // (side // 8) + ij[1] // (side // 8)) % 2).astype(np.float32)
    elif name == "circles":
        grey = 0.5 + 0.5 * np.cos(2 * math.pi * 10 * np.hypot(r - 0.5, c - 0.5))
    elif name == "stripes":
        grey = (np.sin(2 * math.pi * 12 * (r + c) / 2) > 0).astype(np.float32)
    elif name == "square":
        inside = (np.abs(r - 0.5) < 0.25) & (np.abs(c - 0.5) < 0.25)
        grey = inside.astype(np.float32)
    else:
        raise ValueError(f"unknown pattern {name!r}; valid: {', '.join(PATTERNS)}")
    return grey.astype(np.float32)[:, :, None]


def to_grey(pixels: np.ndarray) -> np.ndarray:
    """(H, W) luminance of (H, W, 1) or (H, W, 3) pixels: 0.299 R + 0.587 G + 0.114 B."""
    if pixels.shape[2] == 1:
        return pixels[:, :, 0]
    return pixels @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def image_tensor(pixels: np.ndarray, max_side: int) -> Tensor:
    """(1, 1, H, W) grey float32, shrunk by area averaging so its longer side is <= max_side."""
    x = torch.from_numpy(np.ascontiguousarray(to_grey(pixels)))[None, None]  # (1, 1, H, W)
    h, w = x.shape[2:]
    scale = max_side / max(h, w)
    if scale < 1:
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        x = F.interpolate(x, size=size, mode="area")
    return x.contiguous()


# --- kernels -------------------------------------------------------------------------------------

KERNELS: dict[str, list[list[float]]] = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "box_blur": [[1 / 9] * 3] * 3,
    "gaussian": [[1 / 16, 2 / 16, 1 / 16], [2 / 16, 4 / 16, 2 / 16], [1 / 16, 2 / 16, 1 / 16]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
    "edge": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
}
CUSTOM = "custom"
FILTER_NAMES: tuple[str, ...] = (*KERNELS, CUSTOM)
KERNEL_SIZE = 3
KERNEL_LIMIT = 100.0  # the largest |weight| a typed kernel cell may hold


def kernel(name: str, custom: Sequence[float] = ()) -> Tensor:
    """A preset 3x3 kernel, or the learner's nine numbers (row by row) for "custom"."""
    if name == CUSTOM:
        return torch.tensor(list(custom), dtype=torch.float32).reshape(KERNEL_SIZE, KERNEL_SIZE)
    return torch.tensor(KERNELS[name], dtype=torch.float32)


def filter_bank(names: Sequence[str], custom: Sequence[float] = ()) -> Tensor:
    """(F, 1, 3, 3): the chosen filters as one convolution layer's weights."""
    return torch.stack([kernel(n, custom) for n in names])[:, None]


def feature_maps(
    x: Tensor, bank: Tensor, stride: int, padding: int, dilation: int
) -> tuple[Tensor, Tensor]:
    """(z, relu(z)), each (F, Ho, Wo): one image through one layer of filters."""
    z = conv.conv2d(x, bank.to(x), None, stride, padding, dilation)[0]  # (F, Ho, Wo)
    return z, z.clamp_min(0)


# --- digits --------------------------------------------------------------------------------------

DIGIT_NATIVE = 8  # load_digits: 8 x 8 images, 0..16 ink
DIGIT_SIDE = 16  # upsampled so that two conv + 2x2-pool stages fit (16 -> 8 -> 4)
DIGIT_CLASSES = 10


def upsample(x8: Tensor) -> Tensor:
    """(N, 1, 8, 8) -> (N, 1, 16, 16) by bilinear interpolation (smooth strokes, no new detail)."""
    return F.interpolate(x8, size=(DIGIT_SIDE, DIGIT_SIDE), mode="bilinear", align_corners=False)


@functools.cache
def digit_scans() -> tuple[Tensor, Tensor]:
    """scikit-learn's handwritten digits: X (1797, 1, 8, 8) in [0, 1], y (1797,) the digit."""
    from sklearn.datasets import load_digits  # 1,797 scans shipped in scikit-learn's wheel

    bunch = load_digits()
    X = torch.tensor(bunch.images, dtype=torch.float32)[:, None] / 16.0  # (N, 1, 8, 8) in [0, 1]
    return X, torch.tensor(bunch.target, dtype=torch.int64)


@functools.cache
def digits(seed: int, test_fraction: float = 0.2) -> training.Data:
    """The handwritten digits, upsampled to 16 x 16, split into train and test by `seed`."""
    X8, y = digit_scans()
    X = upsample(X8)  # (N, 1, 16, 16)
    flat = X.reshape(X.shape[0], -1)
    split = datasets.train_test_split(flat, y, test_fraction, seed)
    shape = (-1, 1, DIGIT_SIDE, DIGIT_SIDE)
    return training.Data(
        split.X_train.reshape(shape),
        split.y_train,
        split.X_test.reshape(shape),
        split.y_test,
        "multiclass",
        DIGIT_CLASSES,
    )


def native_test_digit(seed: int, sample: int, test_fraction: float = 0.2) -> np.ndarray:
    """Test digit `sample` of the split `digits(seed)` makes, at its native 8 x 8 in [0, 1]."""
    X8, _ = digit_scans()
    index = torch.arange(X8.shape[0])
    # The split permutes rows by the seed alone: the same permutation picks the same row here.
    split = datasets.train_test_split(index[:, None], index, test_fraction, seed)
    return X8[int(split.y_test[sample]), 0].numpy().copy()


def digit_from_image(pixels: np.ndarray) -> np.ndarray:
    """An uploaded picture of one digit as the data set draws digits: (8, 8), ink 1 on 0.

    Grey; inverted when the background (the border) is light, as for dark ink on paper; cropped
    to the ink and fitted, aspect kept, into the 8 x 8 box, centred.
    """
    grey = to_grey(pixels)
    border = np.concatenate((grey[0], grey[-1], grey[:, 0], grey[:, -1]))
    ink = 1.0 - grey if border.mean() > 0.5 else grey
    ink = np.clip((ink - ink.min()) / max(float(np.ptp(ink)), 1e-6), 0, 1)
    rows, cols = np.nonzero(ink > 0.3)
    if rows.size == 0:
        return np.zeros((DIGIT_NATIVE, DIGIT_NATIVE), np.float32)
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = crop.shape
    scale = DIGIT_NATIVE / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    small = F.interpolate(
        torch.from_numpy(np.ascontiguousarray(crop))[None, None], size=size, mode="area"
    )[0, 0].numpy()
    out = np.zeros((DIGIT_NATIVE, DIGIT_NATIVE), np.float32)
    top, left = (DIGIT_NATIVE - size[0]) // 2, (DIGIT_NATIVE - size[1]) // 2
    out[top : top + size[0], left : left + size[1]] = small
    return out / max(float(out.max()), 1e-6)


def classify(net: conv.SmallCNN, cells: np.ndarray) -> np.ndarray:
    """(10,) class probabilities for an 8 x 8 digit in [0, 1], upsampled like the training data."""
    x = upsample(torch.from_numpy(np.asarray(cells, np.float32))[None, None])  # (1, 1, 16, 16)
    logits = net.predict(x.to(net.params[0]))  # (1, 10)
    return torch.softmax(logits, dim=1)[0].cpu().numpy()


# --- the network and its training ----------------------------------------------------------------


@dataclass(frozen=True)
class Arch:
    """A SmallCNN's shape: channels per stage, kernel, and the pooling after each stage."""

    channels: tuple[int, ...] = (8, 16)
    kernel: int = 3
    pool_kind: str = "max"
    pool: int = 2
    pool_stride: int = 2

    def build(
        self,
        seed: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> conv.SmallCNN:
        """The net for 16 x 16 digits (a ValueError if the stages shrink it to nothing)."""
        return conv.SmallCNN(
            (1, DIGIT_SIDE, DIGIT_SIDE),
            self.channels,
            self.kernel,
            self.pool,
            DIGIT_CLASSES,
            seed=seed,
            device=device,
            dtype=dtype,
            pool_kind=self.pool_kind,
            pool_stride=self.pool_stride,
        )

    def workload(self, rows: int) -> int:
        """Multiply-adds of one epoch's forward pass: what "auto" weighs against the GPU."""
        hw, c_in, total = DIGIT_SIDE, 1, 0
        for c_out in self.channels:
            total += hw * hw * c_in * c_out * self.kernel**2
            hw = max(1, conv.output_size(hw, self.pool, self.pool_stride))
            c_in = c_out
        return rows * total


def trainer(
    arch: Arch,
    setup: training.Setup,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> training.Trainer:
    """A SmallCNN on the digits, trained with `setup`; its seed draws the split and the weights."""
    net = arch.build(setup.seed, device, dtype)
    return training.Trainer(digits(setup.seed), setup, device, dtype, model=net)


def layer_table(arch: Arch) -> list[tuple[str, tuple[int, ...], int]]:
    """(layer, output shape per image, parameters) through the net: SmallCNN.layer_shapes."""
    return arch.build(0).layer_shapes()


def filter_change(t: training.Trainer) -> float:
    """How far the first layer's filters moved from their start: |W - W0| / |W0|."""
    dtype = t.net.params[0].dtype  # the start is drawn in the net's own dtype
    start = arch_of(t.net).build(t.setup.seed, dtype=dtype).filters()
    now = t.net.filters().detach().cpu()
    return ((now - start).norm() / start.norm().clamp_min(1e-12)).item()


def arch_of(net: conv.SmallCNN) -> Arch:
    """The Arch a SmallCNN was built from."""
    return Arch(net.channels, net.kernel, net.pool_kind, net.pool, net.pool_stride)


# --- the pooling claim: max against average against overlapping, over seeds ---------------------

POOL_CHOICES: dict[str, tuple[str, int, int]] = {  # name -> (kind, window, stride)
    "max": ("max", 2, 2),
    "avg": ("avg", 2, 2),
    "overlap": ("max", 3, 2),
}


def pooling_sweep(
    seeds: int,
    setup: training.Setup,
    channels: tuple[int, ...] = (8, 16),
    device: torch.device | str | None = None,
) -> training.Sweep:
    """One job: every pooling choice x every seed, member i = choice i // seeds, seed i % seeds."""
    members = []
    for kind, window, stride in POOL_CHOICES.values():
        arch = Arch(channels, 3, kind, window, stride)
        for seed in range(seeds):
            members.append(trainer(arch, dataclasses.replace(setup, seed=seed), device))
    return training.Sweep(members)


def sweep_accuracies(sweep: training.Sweep, seeds: int) -> dict[str, np.ndarray]:
    """Each choice's final test accuracy per seed."""
    finals = [m.history.test_accuracy[-1] for m in sweep.members]
    return {
        name: np.array(finals[i * seeds : (i + 1) * seeds]) for i, name in enumerate(POOL_CHOICES)
    }


# --- measurements ---------------------------------------------------------------------------------


def pool(x: Tensor, kind: str, window: int, stride: int) -> Tensor:
    """dlcore's max or average pooling."""
    if kind == "max":
        return conv.max_pool2d(x, window, stride)
    return conv.avg_pool2d(x, window, stride)


def relative_change(a: Tensor, b: Tensor) -> float:
    """|a - b| / |b|: how much a feature map changed, 0 for none."""
    return ((a - b).norm() / b.norm().clamp_min(1e-12)).item()


def shift_change(
    x: Tensor, w: Tensor, k: int, kind: str, window: int, stride: int
) -> tuple[float, float]:
    """(before, after): how much ReLU feature maps change when the input moves k pixels right.

    The image and its shifted copy are the same size (each loses k columns at one side), so
    their maps line up cell by cell; before pooling, then after.
    """
    if k == 0:
        return 0.0, 0.0
    a, b = x[..., :, k:], x[..., :, :-k]  # b is a seen k pixels further right
    fa = conv.conv2d(a, w).clamp_min(0)  # (1, F, H', W')
    fb = conv.conv2d(b, w).clamp_min(0)
    return relative_change(fb, fa), relative_change(
        pool(fb, kind, window, stride), pool(fa, kind, window, stride)
    )


def composed(x: Tensor, k1: Tensor, k2: Tensor, relu_between: bool) -> dict[str, Tensor]:
    """Two convolutions in a row (ReLU between or not) against their one composed kernel."""
    first = conv.conv2d(x, k1[None, None])  # (1, 1, H-2, W-2)
    if relu_between:
        first = first.clamp_min(0)
    two = conv.conv2d(first, k2[None, None])[0, 0]  # (H-4, W-4)
    K = conv.compose_kernels(k1, k2)  # (5, 5)
    one = conv.conv2d(x, K[None, None])[0, 0]
    return {"two": two, "one": one, "kernel": K, "diff": (two - one).abs()}


# --- verdicts -------------------------------------------------------------------------------------

AGREE = 1e-4  # float32 rounding of sums of a few hundred products, relative to the scale
LEARNED_ACCURACY = 0.9  # test accuracy on the ten digits that shows the net learned
LEARNED_CHANGE = 0.2  # the filters moved at least this far from their random start


def conv_verdict(
    formula: tuple[int, int], shape: tuple[int, int], diff: float, scale: float
) -> Verdict:
    """A map of the filter's dot products: size by the formula, values as F.conv2d gives."""
    held = tuple(formula) == tuple(shape) and diff <= AGREE * max(1.0, scale)
    return Verdict.judge(held, "claim", ho=shape[0], wo=shape[1], diff=diff)


def relu_verdict(filters: int, maps: int, negative_share: float, relu_min: float) -> Verdict:
    """One map per filter; ReLU zeroes every negative response (and there were some)."""
    if filters < 2:
        return Verdict.unmet("filters", filters=filters)
    held = maps == filters and relu_min >= 0 and negative_share > 0
    return Verdict.judge(held, "negative", maps=maps, share=negative_share)


def compose_verdict(relu_between: bool, diff: float, scale: float) -> Verdict:
    """conv(conv(x, k1), k2) = conv(x, k1 * k2): the largest difference of the two outputs."""
    held = diff <= AGREE * max(1.0, scale)
    return Verdict.judge(held, "relu" if relu_between else "claim", diff=diff, scale=scale)


def pool_verdict(
    in_hw: tuple[int, int], out_hw: tuple[int, int], k: int, before: float, after: float
) -> Verdict:
    """Pooling shrinks the map and the features move less under a small shift after it."""
    if k == 0:
        return Verdict.unmet("shift")
    if out_hw[0] * out_hw[1] >= in_hw[0] * in_hw[1]:
        return Verdict.unmet("window", before=before, after=after)
    held = after < before
    return Verdict.judge(
        held,
        "shift",
        before=before,
        after=after,
        k=k,
        cells_in=in_hw[0] * in_hw[1],
        cells_out=out_hw[0] * out_hw[1],
    )


def pooling_verdict(finished: bool, accuracies: Mapping[str, np.ndarray]) -> Verdict:
    """Non-overlapping max pooling beats average and overlapping pooling on mean test accuracy."""
    if not finished:
        return Verdict.pending()
    mean = {k: float(v.mean()) for k, v in accuracies.items()}
    spread = {k: float(v.std()) for k, v in accuracies.items()}
    gap = min(mean["max"] - mean["avg"], mean["max"] - mean["overlap"])
    held = gap > 0
    return Verdict.judge(
        held,
        "claim",
        max=mean["max"],
        avg=mean["avg"],
        overlap=mean["overlap"],
        max_sd=spread["max"],
        avg_sd=spread["avg"],
        overlap_sd=spread["overlap"],
        gap=gap,
        noise=max(spread.values()),
        seeds=len(accuracies["max"]),
    )


def depth_verdict(rows: Sequence[tuple[str, tuple[int, ...], int]]) -> Verdict:
    """Through the stages the maps get smaller while the number of feature maps grows."""
    pools = [shape for name, shape, _ in rows if "pool" in name]
    if len(pools) < 2:
        return Verdict.unmet("stages", stages=len(pools))
    first, last = pools[0], pools[-1]
    smaller = all(b[1] * b[2] < a[1] * a[2] for a, b in itertools.pairwise(pools))
    deeper = all(b[0] > a[0] for a, b in itertools.pairwise(pools))
    held = smaller and deeper
    return Verdict.judge(
        held,
        "channels" if smaller else "claim",
        side_first=first[1],
        side_last=last[1],
        maps_first=first[0],
        maps_last=last[0],
        stages=len(pools),
    )


def learned_verdict(finished: bool, accuracy: float, change: float) -> Verdict:
    """Trained from random filters, the net reads digits well, with filters of its own."""
    if not finished:
        return Verdict.pending()
    held = accuracy >= LEARNED_ACCURACY and change >= LEARNED_CHANGE
    failed = "accuracy" if accuracy < LEARNED_ACCURACY else "change"
    return Verdict.judge(held, failed, accuracy=accuracy, change=change, wanted=LEARNED_ACCURACY)


# --- PyTorch checks and exports -------------------------------------------------------------------

CHECK_EPOCHS = 2  # epochs the torch.nn replay trains (twice: ours and the twin), in float64


def gradient_check(t: training.Trainer, rows: int = 64) -> float:
    """Largest difference of our hand-written gradients from autograd's, in float64.

    The trained weights are copied into a float64 twin of the net, so that the difference
    measures the method, not float32 rounding of sums over a batch.
    """
    net = arch_of(t.net).build(0, dtype=torch.float64)
    for mine, trained in zip(net.params, t.net.params, strict=True):
        mine.copy_(trained.detach().cpu().double())
    X = t.X_train[:rows].detach().cpu().double()  # (B, 1, 16, 16)
    g = torch.Generator().manual_seed(0)
    dY = torch.randn(X.shape[0], DIGIT_CLASSES, generator=g, dtype=torch.float64)  # (B, 10)
    net.forward(X)
    ours = net.gradients(dY)
    theirs = reference_conv.gradients(net, X, dY)
    return max((a - b).abs().max().item() for a, b in zip(ours, theirs, strict=True))


def replay(arch: Arch, setup: training.Setup, epochs: int) -> dict:
    """Our trainer and the torch.nn twin with torch.optim, from one start, in float64."""
    epochs = min(epochs, CHECK_EPOCHS)
    if epochs < 1:
        return {"epochs": 0}
    ours = trainer(arch, setup, dtype=torch.float64)
    theirs = reference_conv.loss_curve(ours, epochs)
    ours.run(epochs)
    a, b = np.array(ours.history.train_loss), np.array(theirs)
    return {"epochs": epochs, "diff": float(np.nanmax(np.abs(a - b)))}


def twin_difference(arch: Arch, rows: int = 8) -> float:
    """Largest difference of the net's logits from its torch.nn twin's, in float64."""
    net = arch.build(0, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    X = torch.rand(rows, 1, DIGIT_SIDE, DIGIT_SIDE, generator=g, dtype=torch.float64)
    with torch.no_grad():
        theirs = reference_conv.sequential(net)(X)  # (rows, 10)
    return (net.predict(X) - theirs).abs().max().item()


def weights_json(t: training.Trainer) -> str:
    """The trained CNN as JSON: its shape and every weight, in dlcore's layout."""
    net = t.net
    names = [f"{kind}{i + 1}" for i in range(len(net.channels)) for kind in ("conv_w", "conv_b")]
    doc = {
        "format": "dl-cheatsheet CNN: (conv k x k 'same' -> ReLU -> pool) per stage, flatten, "
        "linear h @ W + b with W shaped (features, classes)",
        "input": list(net.in_shape),
        "input_note": "load_digits 8x8 / 16, upsampled bilinearly to 16x16",
        "channels": list(net.channels),
        "kernel": net.kernel,
        "pool": {"kind": net.pool_kind, "window": net.pool, "stride": net.pool_stride},
        "epochs_trained": t.epoch,
        "weights": {
            name: p.detach().cpu().tolist()
            for name, p in zip([*names, "linear_W", "linear_b"], net.params, strict=True)
        },
    }
    return json.dumps(doc, ensure_ascii=False)


def state_dict_bytes(t: training.Trainer) -> bytes:
    """torch.save of the state_dict of the torch.nn twin (reference.conv.sequential)."""
    state = {k: v.detach().cpu() for k, v in reference_conv.sequential(t.net).state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def sequential_code(net: conv.SmallCNN, file_name: str) -> str:
    """Python that rebuilds the twin in torch.nn and loads the exported state_dict."""
    pool = "MaxPool2d" if net.pool_kind == "max" else "AvgPool2d"
    lines, c_in = [], net.in_shape[0]
    for c_out in net.channels:
        lines += [
            f"nn.Conv2d({c_in}, {c_out}, {net.kernel}, padding={net.padding})",
            "nn.ReLU()",
            f"nn.{pool}({net.pool}, {net.pool_stride})",
        ]
        c_in = c_out
    lines += ["nn.Flatten()", f"nn.Linear({net.features}, {net.classes})"]
    body = ",\n    ".join(lines)
    return (
        "import torch\nfrom torch import nn\n\n"
        f"model = nn.Sequential(\n    {body},\n)\n"
        f'model.load_state_dict(torch.load("{file_name}"))\n'
        "# Input: (N, 1, 16, 16) digits in [0, 1], e.g. load_digits().images / 16 upsampled by\n"
        "# torch.nn.functional.interpolate(x, size=(16, 16), mode='bilinear')\n"
    )


def history_csv(history: training.History) -> str:
    """One row per evaluation (and per member of a sweep)."""
    return pd.DataFrame(history.columns()).to_csv(index=False)
