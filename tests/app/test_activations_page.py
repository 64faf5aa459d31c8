"""AppTest: the Activation functions page in every view, at extremes, from URLs good and bad."""

from __future__ import annotations

import pytest

from dlcore import activations
from tests.app.conftest import check_rows, held, open_page, verdict

PAGE = "pages/activations.py"


def charts(at) -> int:
    return len(at.get("plotly_chart"))


def all_checks_pass(at) -> bool:
    rows = check_rows(at)
    return bool(rows) and all(row["agrees"] == "✅" for row in rows)


def test_default_view_draws_both_curve_charts_and_checks_pass():
    at = open_page(PAGE)
    assert at.title[0].value == "Activation functions"
    assert at.multiselect(key="fn").value == ["sigmoid", "tanh", "relu"]
    assert charts(at) == 2
    assert all_checks_pass(at)
    labels = [row["Our from-scratch result vs the PyTorch built-in"] for row in check_rows(at)]
    assert "sigmoid(x)" in labels and "relu′(x) vs autograd" in labels


def test_every_activation_with_its_parameter_sliders():
    at = open_page(PAGE)
    at.multiselect(key="fn").set_value(list(activations.NAMES)).run()
    assert not at.exception
    for key in ("leaky_alpha", "elu_alpha", "prelu_weight", "softplus_beta"):
        slider = at.slider(key=key)
        slider.set_value(slider.max).run()
        assert not at.exception
    at.toggle(key="gelu_tanh").set_value(True).run()
    at.slider(key="x").set_value((-20.0, 20.0)).run()
    assert not at.exception
    assert len(check_rows(at)) == 2 * len(activations.NAMES)
    assert all_checks_pass(at)


def test_no_activation_selected_asks_for_one():
    at = open_page(PAGE)
    at.multiselect(key="fn").set_value([]).run()
    assert not at.exception
    assert charts(at) == 0
    assert "Pick at least one" in at.info[0].value


def test_equal_range_ends_still_draw():
    at = open_page(PAGE, x=["3", "3"])
    assert at.slider(key="x").value == (3.0, 3.0)
    assert charts(at) == 2 and all_checks_pass(at)


@pytest.mark.parametrize("depth,spread", [(1, 0.1), (50, 5.0), (20, 1.0)])
def test_chain_view_at_extremes(depth, spread):
    at = open_page(PAGE, view="chain", depth=str(depth), spread=str(spread))
    assert at.slider(key="depth").value == depth
    assert charts(at) == 1
    sigmoid_factor = float(at.metric[0].value)
    assert 0 < sigmoid_factor <= 0.25**depth
    assert all_checks_pass(at)


def test_dead_relu_big_step_kills_units_and_tiny_step_does_not():
    big = open_page(PAGE, view="dead")
    before, after = (int(m.value.split("/")[0]) for m in big.metric[:2])
    assert after > before
    tiny = open_page(PAGE, view="dead", lr="0.001")
    before, after = (int(m.value.split("/")[0]) for m in tiny.metric[:2])
    assert after == before
    assert all_checks_pass(big) and all_checks_pass(tiny)


def test_dead_relu_extreme_controls_do_not_crash():
    at = open_page(PAGE, view="dead", lr="20.0", hidden="2", offset="50.0", dead_seed="9999")
    assert at.select_slider(key="lr").value == 20.0 and at.slider(key="offset").value == 50.0
    assert charts(at) == 1


def test_softmax_huge_logits_break_only_the_naive_form():
    at = open_page(PAGE, view="softmax")
    assert not at.warning
    at.select_slider(key="scale").set_value(1000).run()
    assert "overflowed" in at.warning[0].value
    assert all_checks_pass(at)


@pytest.mark.parametrize("temp", [0.05, 20.0])
def test_softmax_temperature_extremes(temp):
    at = open_page(PAGE, view="softmax", temp=str(temp))
    assert at.select_slider(key="temp").value == temp
    assert all_checks_pass(at)


@pytest.mark.parametrize(
    "text,message",
    [
        ("1, banana", "is not a number"),
        ("5", "Found 1 numbers"),
        ("1e400, 2", "not a finite number"),
        (", ".join(["1"] * 13), "Found 13 numbers"),
    ],
)
def test_bad_logits_get_a_specific_message_and_defaults(text, message):
    at = open_page(PAGE, view="softmax")
    at.text_input(key="logits").input(text).run()
    assert not at.exception
    assert message in at.error[0].value
    assert charts(at) == 1


def test_url_restores_the_view():
    at = open_page(PAGE, view="softmax", temp="0.2", scale="100", logits="3; 1; -2", lang="zh")
    assert at.segmented_control(key="view").value == "softmax"
    assert at.select_slider(key="temp").value == 0.2
    assert at.select_slider(key="scale").value == 100
    assert at.text_input(key="logits").value == "3; 1; -2"
    assert at.title[0].value == "激活函数"


def test_tampered_url_falls_back_to_defaults():
    at = open_page(
        PAGE,
        view="bogus",
        fn=["nope", "relu"],
        lang="xx",
        device="cuda:7",
        depth="999",
        x=["a", "b"],
    )
    assert at.segmented_control(key="view").value == "shapes"
    assert at.title[0].value == "Activation functions"
    assert at.selectbox(key="device").value == "auto"
    assert charts(at) == 2


def test_reset_restores_defaults_but_keeps_the_language():
    at = open_page(PAGE, view="chain", depth="7", spread="2.5", lang="zh")
    at.button(key="frame_reset").click().run()
    assert at.segmented_control(key="view").value == "shapes"
    assert at.title[0].value == "激活函数"
    at.segmented_control(key="view").set_value("chain").run()
    assert at.slider(key="depth").value == 20
    assert at.slider(key="spread").value == 1.0


def test_chinese_prose_everywhere():
    at = open_page(PAGE, lang="zh")
    for view in ("shapes", "chain", "dead", "softmax"):
        at.segmented_control(key="view").set_value(view).run()
        assert not at.exception
        assert "结论" in at.markdown[1].value


def test_forced_cpu_device_is_reported():
    at = open_page(PAGE, device="cpu")
    assert any("CPU" in c.value for c in at.caption)


# --- verdicts: each experiment's default shows its claim, and a setting can break it ------------


@pytest.mark.parametrize(
    ("view", "claims"),
    [
        ("shapes", ["shapes"]),
        ("chain", ["chain"]),
        ("dead", ["dead"]),
        ("softmax", ["softmax_temperature", "softmax_stable"]),
    ],
)
def test_every_experiment_default_shows_its_claim(view, claims):
    at = open_page(PAGE, view=view)
    for claim in claims:
        assert held(at, claim), verdict(at, claim)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seeded_defaults_hold_for_seeds_0_to_2(seed):
    at = open_page(PAGE, view="chain", seed=str(seed))
    assert held(at, "chain")
    at = open_page(PAGE, view="dead", dead_seed=str(seed))
    assert held(at, "dead"), verdict(at, "dead")


def test_chain_verdict_quotes_the_vanishing_product():
    text = verdict(open_page(PAGE, view="chain"), "chain")
    assert "After 20 layers sigmoid's average product is 1.9e-14" in text
    assert "0.25ⁿ = 9.1e-13" in text


def test_a_tiny_step_kills_nothing_and_the_advice_says_raise_it():
    at = open_page(PAGE, view="dead", lr="0.001")
    text = verdict(at, "dead")
    assert not held(at, "dead")
    assert "0 after it" in text and "Raise the learning rate" in text


def test_a_range_without_zero_misses_the_sigmoid_peak():
    at = open_page(PAGE, x=["1.0", "5.0"])
    assert not held(at, "shapes")
    assert "widen it to include 0" in verdict(at, "shapes")


def test_chain_without_a_relu_says_which_function_to_add():
    at = open_page(PAGE, view="chain", fn=["sigmoid", "tanh"])
    assert not held(at, "chain")
    assert "No ReLU-family function" in verdict(at, "chain")


def test_huge_logits_hold_the_stable_claim_but_hide_the_temperature():
    at = open_page(PAGE, view="softmax", scale="1000")
    assert held(at, "softmax_stable")
    assert "by at most NaN" in verdict(at, "softmax_stable")
    assert not held(at, "softmax_temperature")
    assert "already one-hot" in verdict(at, "softmax_temperature")


def test_verdicts_in_chinese_held_at_the_default_and_advice_at_temperature_one():
    at = open_page(PAGE, view="softmax", lang="zh")
    assert "成立]" in verdict(at, "softmax_temperature")
    assert "不成立" not in verdict(at, "softmax_temperature")
    at.select_slider(key="temp").set_value(1.0).run()
    text = verdict(at, "softmax_temperature")
    assert "此处不成立" in text and "T = 1 时 softmax 保持原样" in text
