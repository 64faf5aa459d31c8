"""The GPU path, checked and timed: dlcore on CUDA against the CPU and against PyTorch built-ins.

`python -m bench.gpu_check` prints one report (and writes it as JSON when given a path). It needs
only torch, so it runs on a lent GPU machine without the app's other dependencies. On a machine
without CUDA it says so and exits 0.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

import torch

from dlcore import activations, device, mlp, reference

SIZE = 4_000_000  # elements per activation check: big enough that "auto" picks the GPU


def _full_precision() -> None:
    # Hopper matmuls and cuDNN may use TF32 (~1e-3 off float32); the oracles need full precision.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def _time(fn: Callable[[], object], sync: bool, repeats: int = 20) -> float:
    """Median seconds of fn() over `repeats` runs after warm-up."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        if sync:
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def activation_rows(cuda: torch.device) -> list[dict]:
    g = torch.Generator().manual_seed(0)
    rows = []
    for name in activations.NAMES:
        act = activations.get(name)
        for dtype in (torch.float32, torch.float64):
            x_cpu = torch.randn(SIZE, generator=g, dtype=dtype) * 30  # (SIZE,) incl. saturation
            x = x_cpu.to(cuda)
            f, df = act.forward(x), act.derivative(x)
            rows.append(
                {
                    "op": name,
                    "dtype": str(dtype).removeprefix("torch."),
                    "cuda_vs_cpu_f": reference.max_abs_diff(f.cpu(), act.forward(x_cpu)),
                    "cuda_vs_cpu_df": reference.max_abs_diff(df.cpu(), act.derivative(x_cpu)),
                    "vs_torch_f": reference.max_abs_diff(f, reference.activation(name, x)),
                    "vs_autograd_df": reference.max_abs_diff(
                        df, reference.activation_derivative(name, x)
                    ),
                    "time_ratio_cuda": _time(
                        lambda a=act, x=x: (a.forward(x), a.derivative(x)), True
                    )
                    / _time(
                        lambda n=name, x=x: (
                            reference.activation(n, x),
                            reference.activation_derivative(n, x),
                        ),
                        True,
                    ),
                }
            )
    return rows


def mlp_row(cuda: torch.device) -> dict:
    """784-128-10, batch 128: hand-written backward on CUDA vs the CPU and vs autograd."""
    g = torch.Generator().manual_seed(1)
    X = torch.randn(128, 784, generator=g)  # (N, F)
    dY = torch.randn(128, 10, generator=g)  # (N, C)
    net_cpu = mlp.MLP([784, 128, 10], "relu", seed=3)
    net_gpu = mlp.MLP([784, 128, 10], "relu", seed=3, device=cuda)
    net_cpu.forward(X)
    net_gpu.forward(X.to(cuda))
    grads_cpu, grads_gpu = net_cpu.backward(dY), net_gpu.backward(dY.to(cuda))
    oracle = reference.mlp_gradients(net_gpu.params, "relu", X.to(cuda), dY.to(cuda))

    def step_gpu() -> None:
        net_gpu.forward(X.to(cuda))
        net_gpu.backward(dY.to(cuda))

    def step_cpu() -> None:
        net_cpu.forward(X)
        net_cpu.backward(dY)

    return {
        "grads_cuda_vs_cpu": reference.max_abs_diff(
            [[t.cpu() for t in p] for p in grads_gpu], grads_cpu
        ),
        "grads_cuda_vs_autograd": reference.max_abs_diff(grads_gpu, oracle),
        "fwd_bwd_ms_cuda": 1e3 * _time(step_gpu, True),
        "fwd_bwd_ms_cpu": 1e3 * _time(step_cpu, False),
    }


def training_row(cuda: torch.device, steps: int = 300) -> dict:
    """A regression net trained with our backprop and plain SGD on both devices: same curve?"""
    g = torch.Generator().manual_seed(2)
    X = torch.rand(4096, 2, generator=g) * 6 - 3  # (N, 2)
    y = torch.sin(X[:, :1]) * torch.cos(X[:, 1:])  # (N, 1)
    curves, seconds = {}, {}
    for dev in (torch.device("cpu"), cuda):
        net = mlp.MLP([2, 64, 64, 1], "tanh", seed=5, device=dev, dtype=torch.float64)
        Xd, yd = X.to(dev, torch.float64), y.to(dev, torch.float64)
        losses = []
        start = time.perf_counter()
        for _ in range(steps):
            y_hat = net.forward(Xd)
            losses.append(mlp.mse(y_hat, yd))
            net.params = mlp.sgd_step(net.params, net.backward(mlp.mse_gradient(y_hat, yd)), 0.1)
        curves[dev.type] = torch.stack(losses).cpu()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        seconds[dev.type] = time.perf_counter() - start
    return {
        "steps": steps,
        "loss_first": float(curves["cpu"][0]),
        "loss_last": float(curves["cpu"][-1]),
        "curve_cuda_vs_cpu": reference.max_abs_diff(curves["cuda"], curves["cpu"]),
        "ms_per_step_cpu": 1e3 * seconds["cpu"] / steps,
        "ms_per_step_cuda": 1e3 * seconds["cuda"] / steps,
    }


def playground_row(other: torch.device, epochs: int = 20) -> dict:
    """The playground's trainer (dlcore.training) on both devices: same loss curve, and speed."""
    from dlcore import datasets, training

    X, y = datasets.get("spiral", 4096, 0.3, 0, k=3)
    split = datasets.train_test_split(X.double(), y, 0.2, 0)
    data = training.Data(split.X_train, split.y_train, split.X_test, split.y_test, "multiclass", 3)
    setup = training.Setup((64, 64), "relu", "adam", 0.01, 256, "l2", 1e-4, seed=1)
    curves, seconds = {}, {}
    for dev in (torch.device("cpu"), other):
        trainer = training.Trainer(data, setup, device=dev, dtype=torch.float64)
        start = time.perf_counter()
        trainer.run(epochs)
        seconds[dev.type] = time.perf_counter() - start  # run() reads the loss back: synced
        curves[dev.type] = torch.tensor(trainer.history.train_loss)
    return {
        "epochs": epochs,
        "loss_first_last": [float(curves["cpu"][0]), float(curves["cpu"][-1])],
        "curve_other_vs_cpu": reference.max_abs_diff(curves[other.type], curves["cpu"]),
        "epochs_per_s_cpu": epochs / seconds["cpu"],
        "epochs_per_s_other": epochs / seconds[other.type],
    }


def descent_row(other: torch.device, steps: int = 500, starts: int = 1000) -> dict:
    """The batched gradient-descent runner (dlcore.descent) on both devices: same paths?"""
    from dlcore import descent, surfaces

    g = torch.Generator().manual_seed(0)
    points = torch.rand(starts, 2, generator=g, dtype=torch.float64) * 3 - 1.5  # (S, 2)
    race = [descent.Optimizer(n, lr) for n, lr in (("sgd", 1e-4), ("adam", 1e-2))]
    finals, seconds = {}, {}
    for dev in (torch.device("cpu"), other):
        start = time.perf_counter()
        run = descent.run(surfaces.get("rosenbrock"), points.to(dev), race, steps, tol=0.0)
        finals[dev.type] = run.final.cpu()  # reading the result back waits for the device
        seconds[dev.type] = time.perf_counter() - start
    return {
        "runs": len(race) * starts,
        "steps": steps,
        "final_other_vs_cpu": reference.max_abs_diff(finals[other.type], finals["cpu"]),
        "seconds_cpu": seconds["cpu"],
        "seconds_other": seconds[other.type],
    }


# --- convolution, pooling and the small CNN (the CNN lab) ---------------------------------------

# (N, C, H, W) images -> F filters of k x k, padding: the shapes the CNN issue measures.
CONV_SHAPES = (
    ((64, 16, 14, 14), 32, 3, 1),
    ((64, 1, 28, 28), 16, 5, 2),
    ((1, 1, 256, 256), 8, 3, 1),
)


def conv_rows(cuda: torch.device) -> list[dict]:
    """dlcore.conv2d and its hand-written backward on CUDA: vs CPU, vs cuDNN + autograd, speed."""
    from dlcore import conv
    from dlcore.reference import conv as twin

    g = torch.Generator().manual_seed(3)
    rows = []
    for (n, c, h, w_), f, k, p in CONV_SHAPES:
        x = torch.randn(n, c, h, w_, generator=g)  # (N, C, H, W)
        w = torch.randn(f, c, k, k, generator=g) / k  # (F, C, k, k)
        dout = torch.randn(n, f, h + 2 * p - k + 1, w_ + 2 * p - k + 1, generator=g)
        xc, wc, dc = x.to(cuda), w.to(cuda), dout.to(cuda)
        ours = conv.conv2d(xc, wc, None, 1, p)
        grads = conv.conv2d_backward(dc, xc, wc, 1, p)
        oracle = twin.conv2d_gradients(dc, xc, wc, 1, p)

        def ours_step(xc=xc, wc=wc, dc=dc, p=p) -> None:
            conv.conv2d(xc, wc, None, 1, p)
            conv.conv2d_backward(dc, xc, wc, 1, p)

        def twin_step(xc=xc, wc=wc, dc=dc, p=p) -> None:
            twin.conv2d(xc, wc, None, 1, p)
            twin.conv2d_gradients(dc, xc, wc, 1, p)

        def cpu_step(x=x, w=w, dout=dout, p=p) -> None:
            conv.conv2d(x, w, None, 1, p)
            conv.conv2d_backward(dout, x, w, 1, p)

        rows.append(
            {
                "op": f"conv2d {n}x{c}x{h}x{w_} -> {f} filters {k}x{k}",
                "cuda_vs_cpu": reference.max_abs_diff(ours.cpu(), conv.conv2d(x, w, None, 1, p)),
                "vs_cudnn": reference.max_abs_diff(ours, twin.conv2d(xc, wc, None, 1, p)),
                "grads_vs_autograd": reference.max_abs_diff(list(grads), list(oracle)),
                "fwd_bwd_ratio_vs_cudnn": _time(ours_step, True) / _time(twin_step, True),
                "fwd_bwd_ms_cuda": 1e3 * _time(ours_step, True),
                "fwd_bwd_ms_cpu": 1e3 * _time(cpu_step, False, repeats=5),
                "auto_device": str(device.resolve("auto", x.numel() * f * k * k)),
            }
        )
    return rows


def pool_rows(cuda: torch.device) -> list[dict]:
    """Max and average pooling (non-overlapping and overlapping) on CUDA: vs CPU and F, speed."""
    from dlcore import conv
    from dlcore.reference import conv as twin

    x = torch.randn(64, 16, 28, 28, generator=torch.Generator().manual_seed(4))
    xc = x.to(cuda)
    rows = []
    for kind, window, stride in (("max", 2, 2), ("avg", 2, 2), ("max", 3, 2)):
        ours_fn = conv.max_pool2d if kind == "max" else conv.avg_pool2d
        twin_fn = twin.max_pool2d if kind == "max" else twin.avg_pool2d
        back_fn = conv.max_pool2d_backward if kind == "max" else conv.avg_pool2d_backward
        grad_fn = twin.max_pool2d_gradient if kind == "max" else twin.avg_pool2d_gradient
        out = ours_fn(xc, window, stride)
        dout = torch.randn_like(out)
        rows.append(
            {
                "op": f"{kind}_pool2d {window}x{window} stride {stride}, 64x16x28x28",
                "cuda_vs_cpu": reference.max_abs_diff(out.cpu(), ours_fn(x, window, stride)),
                "vs_torch": reference.max_abs_diff(out, twin_fn(xc, window, stride)),
                "grad_vs_autograd": reference.max_abs_diff(
                    back_fn(dout, xc, window, stride), grad_fn(dout, xc, window, stride)
                ),
                "fwd_ratio_vs_torch": _time(lambda f=ours_fn, k=window, s=stride: f(xc, k, s), True)
                / _time(lambda f=twin_fn, k=window, s=stride: f(xc, k, s), True),
            }
        )
    return rows


def _line_images(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n 1x16x16 images of ten classes (class k: a bright line at row k + 3) in noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=g)
    X = 0.3 * torch.randn(n, 1, 16, 16, generator=g)
    X[torch.arange(n), 0, y + 3, 2:14] += 1.0
    return X, y


def cnn_row(other: torch.device, epochs: int = 3) -> dict:
    """The CNN lab's SmallCNN trained by dlcore.training on both devices (float64): same curve?"""
    from dlcore import conv, training
    from dlcore.reference import conv as twin

    X, y = _line_images(2048, 0)
    X_test, y_test = _line_images(512, 1)
    data = training.Data(X, y, X_test, y_test, "multiclass", 10)
    setup = training.Setup((), "relu", "adam", 0.003, 32, seed=1)
    curves, seconds = {}, {}
    for dev in (torch.device("cpu"), other):
        net = conv.SmallCNN((1, 16, 16), (8, 16), 3, 2, 10, seed=1, device=dev, dtype=torch.float64)
        trainer = training.Trainer(data, setup, device=dev, dtype=torch.float64, model=net)
        start = time.perf_counter()
        trainer.run(epochs)
        seconds[dev.type] = time.perf_counter() - start  # run() reads the loss back: synced
        curves[dev.type] = torch.tensor(trainer.history.train_loss)
    check = training.Trainer(data, setup, device=other, dtype=torch.float64,
                             model=conv.SmallCNN((1, 16, 16), (8, 16), 3, 2, 10, seed=1,
                                                 device=other, dtype=torch.float64))  # fmt: skip
    twin_curve = torch.tensor(twin.loss_curve(check, 1))
    check.run(1)
    workload = 2048 * (16 * 16 * 1 * 8 * 9 + 8 * 8 * 8 * 16 * 9)  # multiply-adds of one epoch
    return {
        "epochs": epochs,
        "loss_first_last": [float(curves["cpu"][0]), float(curves["cpu"][-1])],
        "curve_other_vs_cpu": reference.max_abs_diff(curves[other.type], curves["cpu"]),
        "curve_vs_torch_nn_twin_on_other": reference.max_abs_diff(
            torch.tensor(check.history.train_loss), twin_curve
        ),
        "epochs_per_s_cpu": epochs / seconds["cpu"],
        "epochs_per_s_other": epochs / seconds[other.type],
        "auto_device_for_training": str(device.resolve("auto", workload)),
    }


# --- recurrent cells (the RNN lab) ---------------------------------------------------------------

# (B, T, I, H): the two bench shapes, and the RNN page's next-step training batch.
RNN_SHAPES = ((32, 50, 8, 64), (1, 200, 8, 32), (32, 16, 1, 12))


def _rnn_step(kind: str, x, h0, W, dout):
    """Our forward + BPTT by hand (the trace reused), as the trainer runs them."""
    from dlcore import rnn as N

    if kind == "lstm":
        out, _, trace = N.lstm(x, h0, h0, *W)
        return out, N.lstm_backward(dout, x, h0, h0, *W, trace=trace)
    if kind == "gru":
        out, _, trace = N.gru(x, h0, *W)
        return out, N.gru_backward(dout, x, h0, *W, trace=trace)
    out, _, trace = N.rnn(x, h0, *W)
    return out, N.rnn_backward(dout, x, h0, *W, trace=trace)


def rnn_rows(cuda: torch.device) -> list[dict]:
    """dlcore.rnn's time loop + BPTT on CUDA: vs the CPU, vs cuDNN + autograd, and its speed.

    The Python time loop launches a few kernels per step: on a GPU it is launch-bound at these
    sizes, so "auto" keeps it on the CPU (its workload is one step's batch x gates x units).
    """
    from dlcore import rnn as N
    from dlcore.reference import rnn as twin

    rows = []
    for kind in N.KINDS:
        for B, T, I_, H in RNN_SHAPES:
            g = torch.Generator().manual_seed(5)
            G = N.GATES[kind]
            W = [(torch.rand(s, generator=g) * 2 - 1) / H**0.5
                 for s in ((G * H, I_), (G * H, H), (G * H,), (G * H,))]  # fmt: skip
            x, dout = torch.randn(T, B, I_, generator=g), torch.randn(T, B, H, generator=g)
            h0 = torch.zeros(B, H)
            Wc, xc, doutc, h0c = [w.to(cuda) for w in W], x.to(cuda), dout.to(cuda), h0.to(cuda)
            out_cpu, grads_cpu = _rnn_step(kind, x, h0, W, dout)
            out_gpu, grads_gpu = _rnn_step(kind, xc, h0c, Wc, doutc)
            c0 = h0c if kind == "lstm" else None
            oracle = twin.autograd_backward(kind, doutc, xc, h0c, Wc, c0)
            names = ("x", "W_ih", "W_hh", "b_ih", "b_hh")

            def ours_gpu(kind=kind, xc=xc, h0c=h0c, Wc=Wc, doutc=doutc) -> None:
                _rnn_step(kind, xc, h0c, Wc, doutc)

            def cudnn(kind=kind, xc=xc, h0c=h0c, Wc=Wc, doutc=doutc, c0=c0) -> None:
                twin.autograd_backward(kind, doutc, xc, h0c, Wc, c0)

            def ours_cpu(kind=kind, x=x, h0=h0, W=W, dout=dout) -> None:
                _rnn_step(kind, x, h0, W, dout)

            ms_gpu, ms_cpu = 1e3 * _time(ours_gpu, True), 1e3 * _time(ours_cpu, False, repeats=5)
            rows.append(
                {
                    "op": f"{kind} B{B} T{T} I{I_} H{H} forward + BPTT",
                    "cuda_vs_cpu": reference.max_abs_diff(out_gpu.cpu(), out_cpu),
                    "vs_cudnn": reference.max_abs_diff(
                        out_gpu, twin.forward(kind, xc, h0c, Wc, c0)[0]
                    ),
                    "grads_vs_autograd": max(
                        reference.max_abs_diff(grads_gpu[n], oracle[n]) for n in names
                    ),
                    "grads_cuda_vs_cpu": max(
                        reference.max_abs_diff(grads_gpu[n].cpu(), grads_cpu[n]) for n in names
                    ),
                    "fwd_bwd_ms_cuda": ms_gpu,
                    "fwd_bwd_ms_cudnn": 1e3 * _time(cudnn, True),
                    "fwd_bwd_ms_cpu": ms_cpu,
                    "cuda_over_cpu": ms_gpu / ms_cpu,
                    "auto_device": str(device.resolve("auto", B * G * H)),
                }
            )
    return rows


def rnn_trainer_row(other: torch.device, epochs: int = 5) -> dict:
    """The RNN page's three next-step models (dlcore.rnn.SequenceModel) trained on both devices:
    the same curve (float64), and epochs per second, which decide where "auto" puts them."""
    from dlcore import rnn as N
    from dlcore import training

    t = torch.arange(216, dtype=torch.float64)
    series = torch.sin(2 * torch.pi * t / 25)
    X = series.unfold(0, 16, 1)[:200].unsqueeze(2)  # (200, 16, 1) windows
    y = series[16:216].unsqueeze(1)  # (200, 1) next values
    data = training.Data(X[:160], y[:160], X[160:], y[160:], "regression", 0)
    setup = training.Setup((), "tanh", "adam", 0.01, 32, seed=0)
    curves, seconds = {}, {}
    for dev in (torch.device("cpu"), other):
        trainers = [
            training.Trainer(data, setup, device=dev, dtype=torch.float64,
                             model=N.SequenceModel(k, 1, 12, 1, 0, dev, torch.float64))
            for k in N.KINDS
        ]  # fmt: skip
        start = time.perf_counter()
        for trainer in trainers:
            trainer.run(epochs)
        seconds[dev.type] = time.perf_counter() - start  # run() reads the loss back: synced
        curves[dev.type] = torch.tensor([tr.history.train_loss for tr in trainers])
    return {
        "epochs": epochs,
        "curve_other_vs_cpu": reference.max_abs_diff(curves[other.type], curves["cpu"]),
        "epochs_per_s_cpu": epochs / seconds["cpu"],
        "epochs_per_s_other": epochs / seconds[other.type],
        "auto_device_for_training": str(device.resolve("auto", 32 * 4 * 12)),
    }


def report() -> dict:
    if not torch.cuda.is_available():
        return {"cuda": False}
    _full_precision()
    cuda = torch.device("cuda")
    dead_cpu = mlp.dead_relu_experiment(hidden=32, lr=0.7, seed=1)
    dead_gpu = mlp.dead_relu_experiment(hidden=32, lr=0.7, seed=1, device=cuda)
    z = torch.tensor([2000.0, 1000.0, -5.0], device=cuda)
    return {
        "cuda": True,
        "torch": torch.__version__,
        "device": device.describe(cuda),
        "auto_for_large_work": str(device.resolve("auto", SIZE)),
        "auto_for_small_work": str(device.resolve("auto", 2001)),
        "activations": activation_rows(cuda),
        "mlp_784_128_10": mlp_row(cuda),
        "training": training_row(cuda),
        "playground_trainer": playground_row(cuda),
        "descent_runner": descent_row(cuda),
        "conv2d": conv_rows(cuda),
        "pooling": pool_rows(cuda),
        "cnn_trainer": cnn_row(cuda),
        "rnn_cells": rnn_rows(cuda),
        "rnn_trainer": rnn_trainer_row(cuda),
        "dead_relu_cpu_vs_cuda": [dead_cpu.n_dead_after, dead_gpu.n_dead_after],
        "dead_relu_grad_diff_cuda": reference.max_abs_diff(
            dead_gpu.grads,
            reference.mlp_gradients(dead_gpu.params_before, "relu", dead_gpu.X, dead_gpu.dY),
        ),
        "softmax_stable_vs_torch_cuda": reference.max_abs_diff(
            activations.softmax(z), reference.softmax(z)
        ),
        "softmax_naive_finite_cuda": bool(
            torch.isfinite(activations.softmax(z, stable=False)).all()
        ),
    }


def main() -> None:
    result = report()
    text = json.dumps(result, indent=1)
    print(text)
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
