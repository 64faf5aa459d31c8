"""The CNN lab's glue: images, kernels, digits, measurements, verdicts (held and not), exports."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcore import conv, training
from dlcore.reference import conv as reference_conv
from ui import cnn


def test_photos_and_patterns_are_images_in_unit_range() -> None:
    for name in cnn.PHOTOS:
        pixels = cnn.photo(name)
        assert pixels.shape == (427, 640, 3) and pixels.dtype == np.float32
        assert pixels.min() >= 0.0 and pixels.max() <= 1.0 and pixels.std() > 0.1
        with pytest.raises(ValueError):
            pixels[0, 0, 0] = 1.0  # shared between sessions: read-only
    for name in cnn.PATTERNS:
        pixels = cnn.pattern(name)
        assert pixels.shape == (cnn.PATTERN_SIDE, cnn.PATTERN_SIDE, 1)
        assert pixels.min() >= 0 and pixels.max() <= 1 and pixels.std() > 0.1
    with pytest.raises(ValueError):
        cnn.pattern("nope")


def test_image_tensor_is_grey_and_shrunk_to_the_longer_side() -> None:
    x = cnn.image_tensor(cnn.photo("china"), 128)
    assert x.shape == (1, 1, 85, 128)
    small = cnn.image_tensor(np.ones((10, 20, 1), np.float32), 128)
    assert small.shape == (1, 1, 10, 20)  # never enlarged
    rgb = np.zeros((4, 4, 3), np.float32)
    rgb[..., 1] = 1.0  # pure green
    assert cnn.image_tensor(rgb, 4)[0, 0, 0, 0].item() == pytest.approx(0.587)


def test_every_preset_kernel_and_the_custom_grid() -> None:
    assert set(cnn.KERNELS) == {
        "identity", "box_blur", "gaussian", "sharpen", "sobel_x", "sobel_y", "laplacian",
        "emboss", "edge",
    }  # fmt: skip
    x = cnn.image_tensor(cnn.photo("flower"), 64)
    z, _ = cnn.feature_maps(x, cnn.filter_bank(["identity"]), 1, 1, 1)
    torch.testing.assert_close(z[0], x[0, 0])  # identity with "same" padding: the image
    for blur in ("box_blur", "gaussian"):
        assert cnn.kernel(blur).sum().item() == pytest.approx(1.0)  # blurs keep brightness
    for edge in ("sobel_x", "sobel_y", "laplacian", "edge"):
        assert cnn.kernel(edge).sum().item() == pytest.approx(0.0)  # flat regions give 0
    custom = cnn.kernel(cnn.CUSTOM, range(9))
    assert custom[2, 0].item() == 6.0  # row by row
    bank = cnn.filter_bank(["sobel_x", cnn.CUSTOM], list(range(9)))
    assert bank.shape == (2, 1, 3, 3)


def test_feature_maps_match_f_conv2d_with_stride_padding_and_dilation() -> None:
    x = cnn.image_tensor(cnn.pattern("circles"), 48)
    bank = cnn.filter_bank(["sobel_x", "laplacian", "emboss"])
    z, a = cnn.feature_maps(x, bank, 2, 3, 2)
    theirs = F.conv2d(x, bank, None, 2, 3, 2)[0]
    torch.testing.assert_close(z, theirs)
    assert z.shape[1:] == conv.output_shape((48, 48), 3, 2, 3, 2)
    assert (a >= 0).all() and torch.equal(a, z.clamp_min(0))


# --- digits ------------------------------------------------------------------------------------


def test_digits_are_upsampled_to_16_and_split_by_the_seed() -> None:
    data = cnn.digits(0)
    assert data.X_train.shape[1:] == (1, 16, 16) and data.n_classes == 10
    assert data.X_train.shape[0] + data.X_test.shape[0] == 1797
    assert data.X_test.shape[0] == round(0.2 * 1797)
    assert set(data.y_test.tolist()) == set(range(10))
    assert not torch.equal(cnn.digits(1).y_test, data.y_test)
    # The 8x8 test digit on the pad upsamples to exactly the test image the net sees.
    native = cnn.native_test_digit(0, 5)
    torch.testing.assert_close(
        cnn.upsample(torch.from_numpy(native)[None, None])[0], data.X_test[5]
    )


def test_an_uploaded_digit_becomes_light_ink_on_dark_in_the_8x8_box() -> None:
    paper = np.ones((100, 60, 1), np.float32)  # white paper
    paper[20:80, 25:35] = 0.0  # a dark vertical stroke: a "1"
    cells = cnn.digit_from_image(paper)
    assert cells.shape == (8, 8) and cells.max() == pytest.approx(1.0)
    assert cells[:, 3].min() > 0.8 and cells[:, [0, 1, 6, 7]].max() == 0  # a centred stroke
    dark = 1.0 - paper  # light ink on black gives the same digit
    np.testing.assert_allclose(cnn.digit_from_image(dark), cells, atol=1e-6)
    assert not cnn.digit_from_image(np.ones((10, 10, 1), np.float32)).any()  # blank: no ink


def test_the_trained_net_classifies_a_test_digit_from_the_pad() -> None:
    setup = training.Setup((), "relu", "adam", 0.003, 32, seed=0)
    t = cnn.trainer(cnn.Arch(), setup)
    t.run(3)
    right = 0
    for sample in range(20):
        probs = cnn.classify(t.net, cnn.native_test_digit(0, sample))
        assert probs.shape == (10,) and probs.sum() == pytest.approx(1.0, abs=1e-5)
        right += int(probs.argmax()) == int(t.y_test[sample])
    assert right >= 17


# --- measurements --------------------------------------------------------------------------------


def test_composed_kernels_give_the_two_step_result_and_relu_breaks_it() -> None:
    x = cnn.image_tensor(cnn.photo("china"), 64)
    linear = cnn.composed(x, cnn.kernel("gaussian"), cnn.kernel("sobel_x"), False)
    assert linear["kernel"].shape == (5, 5)
    scale = linear["two"].abs().max().item()
    assert linear["diff"].max().item() <= 1e-6 * scale
    bent = cnn.composed(x, cnn.kernel("sobel_x"), cnn.kernel("sobel_y"), True)
    assert bent["diff"].max().item() > 0.05 * bent["two"].abs().max().item()


def test_compose_kernels_matches_two_f_conv2d_in_float64() -> None:
    g = torch.Generator().manual_seed(0)
    k1, k2 = (
        torch.randn(3, 3, generator=g, dtype=torch.float64),
        torch.randn(2, 4, generator=g, dtype=torch.float64),
    )
    x = torch.randn(2, 1, 12, 15, generator=g, dtype=torch.float64)
    K = conv.compose_kernels(k1, k2)
    assert K.shape == (4, 6)
    torch.testing.assert_close(
        F.conv2d(F.conv2d(x, k1[None, None]), k2[None, None]), F.conv2d(x, K[None, None])
    )


def test_pooling_makes_features_less_sensitive_to_a_small_shift() -> None:
    x = cnn.image_tensor(cnn.photo("china"), 128)
    w = cnn.kernel("sobel_x")[None, None]
    before, after = cnn.shift_change(x, w, 1, "max", 2, 2)
    assert 0 < after < before
    assert cnn.shift_change(x, w, 0, "max", 2, 2) == (0.0, 0.0)
    pooled = cnn.pool(torch.ones(1, 1, 8, 8), "avg", 3, 2)
    assert pooled.shape == (1, 1, 3, 3)


# --- verdicts: each where it holds and where it does not -----------------------------------------


def test_conv_and_relu_verdicts() -> None:
    assert cnn.conv_verdict((5, 7), (5, 7), 0.0, 1.0).held
    assert not cnn.conv_verdict((5, 7), (5, 6), 0.0, 1.0).held
    assert not cnn.conv_verdict((5, 7), (5, 7), 1e-2, 1.0).held
    assert cnn.relu_verdict(3, 3, 0.4, 0.0).held
    one = cnn.relu_verdict(1, 1, 0.4, 0.0)
    assert not one.held and one.failed == "filters" and not one.measured
    blur = cnn.relu_verdict(2, 2, 0.0, 0.0)
    assert not blur.held and blur.failed == "negative"


def test_compose_and_pool_verdicts() -> None:
    assert cnn.compose_verdict(False, 1e-7, 3.0).held
    relu = cnn.compose_verdict(True, 0.5, 3.0)
    assert not relu.held and relu.failed == "relu"
    assert cnn.pool_verdict((64, 64), (32, 32), 1, 0.9, 0.5).held
    far = cnn.pool_verdict((64, 64), (32, 32), 4, 0.9, 0.95)
    assert not far.held and far.failed == "shift"
    assert cnn.pool_verdict((64, 64), (64, 64), 1, 0.9, 0.9).failed == "window"
    assert cnn.pool_verdict((64, 64), (32, 32), 0, 0.0, 0.0).failed == "shift"


def test_depth_verdict_from_the_layer_table() -> None:
    deeper = cnn.layer_table(cnn.Arch((8, 16, 32)))
    verdict = cnn.depth_verdict(deeper)
    assert verdict.held and verdict.values["side_first"] == 8 and verdict.values["side_last"] == 2
    same = cnn.depth_verdict(cnn.layer_table(cnn.Arch((16, 16))))
    assert not same.held and same.failed == "channels"
    assert cnn.depth_verdict(cnn.layer_table(cnn.Arch((8,)))).failed == "stages"
    with pytest.raises(ValueError):
        cnn.layer_table(cnn.Arch((8, 8, 8, 8), pool=3, pool_stride=3))  # 16 -> 5 -> 1 -> nothing


def test_learned_and_pooling_verdicts() -> None:
    assert cnn.learned_verdict(False, 0.0, 0.0).held is None
    assert cnn.learned_verdict(True, 0.95, 0.5).held
    assert cnn.learned_verdict(True, 0.5, 0.5).failed == "accuracy"
    assert cnn.learned_verdict(True, 0.95, 0.01).failed == "change"
    assert cnn.pooling_verdict(False, {}).held is None
    ahead = {"max": np.array([0.95, 0.96]), "avg": np.array([0.9, 0.92]),
             "overlap": np.array([0.93, 0.94])}  # fmt: skip
    assert cnn.pooling_verdict(True, ahead).held
    behind = {**ahead, "overlap": np.array([0.97, 0.97])}
    assert not cnn.pooling_verdict(True, behind).held


def test_the_pooling_claim_preset_reduced_holds() -> None:
    """Two seeds, three epochs (the page's preset is three seeds, ten epochs): held."""
    setup = training.Setup((), "relu", "adam", 0.003, 32)
    sweep = cnn.pooling_sweep(2, setup)
    assert len(sweep.members) == 6
    assert [m.net.pool_kind for m in sweep.members] == ["max", "max", "avg", "avg", "max", "max"]
    assert [m.net.pool for m in sweep.members][-1] == 3
    sweep.run(3)
    verdict = cnn.pooling_verdict(True, cnn.sweep_accuracies(sweep, 2))
    assert verdict.held, verdict.values


def test_the_learn_claim_preset_holds_after_its_epochs() -> None:
    """The page's default run (10 epochs) reads over 90% of the test digits with its own filters."""
    t = cnn.trainer(cnn.Arch(), training.Setup((), "relu", "adam", 0.003, 32, seed=0))
    t.run(10)
    verdict = cnn.learned_verdict(True, t.history.test_accuracy[-1], cnn.filter_change(t))
    assert verdict.held, verdict.values


# --- checks and exports ---------------------------------------------------------------------------


def test_gradients_and_replay_agree_with_torch() -> None:
    setup = training.Setup((), "relu", "adam", 0.003, 32, seed=2)
    t = cnn.trainer(cnn.Arch((4, 8), pool_kind="avg"), setup)
    assert cnn.gradient_check(t, 16) < 1e-10
    result = cnn.replay(cnn.Arch((4, 8), pool_kind="avg"), setup, 1)
    assert result["epochs"] == 1 and result["diff"] < 1e-9


def test_exports_load_into_the_torch_nn_twin() -> None:
    t = cnn.trainer(cnn.Arch((4, 8)), training.Setup((), "relu", "adam", 0.003, 32))
    t.run(1)
    namespace: dict = {}
    code = cnn.sequential_code(t.net, "unused.pt").replace(
        'model.load_state_dict(torch.load("unused.pt"))', ""
    )
    exec(code, namespace)  # the shown code builds the same torch.nn network
    model = namespace["model"]
    model.load_state_dict(torch.load(io.BytesIO(cnn.state_dict_bytes(t))))
    X = t.X_test[:8]
    torch.testing.assert_close(model(X), t.net.predict(X), rtol=1e-5, atol=1e-5)
    doc = cnn.weights_json(t)
    assert '"conv_w1"' in doc and '"linear_W"' in doc and '"epochs_trained": 1' in doc
    csv = cnn.history_csv(t.history).splitlines()
    assert csv[0] == ",".join(training.HISTORY_COLUMNS) and len(csv) == 3


def test_workload_sends_training_but_not_small_filters_to_a_gpu_under_auto() -> None:
    rows = cnn.digits(0).X_train.shape[0]
    from dlcore import device

    assert cnn.Arch().workload(rows) >= device.GPU_MIN_WORKLOAD  # batched CNN training: big
    assert device.GPU_MIN_WORKLOAD > 64 * 64 * 4 * 9  # a few filters on a small image: small
    assert reference_conv.sequential(cnn.Arch().build(0))  # the twin exists for every Arch
