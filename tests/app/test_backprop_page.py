"""AppTest: the Backpropagation page in every experiment, its claims, URLs good and bad."""

from __future__ import annotations

import json

import pytest

from dlcore import activations
from tests.app.conftest import check_rows, held, open_page, rerun_until, verdict

PAGE = "pages/backprop.py"


def all_checks_pass(at) -> bool:
    rows = check_rows(at)
    return bool(rows) and all(row["agrees"] == "✅" for row in rows)


def chart(at, key: str) -> dict:
    """The Plotly figure drawn with st.plotly_chart(key=key), as JSON."""
    found = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert found, [c.proto.id for c in at.get("plotly_chart")]
    return json.loads(found[0].proto.spec)


def node_rows(at) -> list[list[str]]:
    """The rows of the graph view's node table (the first markdown table on the page)."""
    table = next(m.value for m in at.markdown if m.value.startswith("| node"))
    return [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]


# --- the graph ------------------------------------------------------------------------------------


def test_default_graph_shows_every_node_with_autograd_and_the_claim_holds():
    at = open_page(PAGE)
    assert at.title[0].value == "Backpropagation & gradients"
    assert at.slider(key="step").value == at.slider(key="step").max == 12  # 6 nodes, both ways
    rows = node_rows(at)
    # x (2) -> z1, h1 (3 each) -> z2, h2 (2 each) -> ŷ (1) -> L (1)
    assert [r[0] for r in rows] == [*(f"z1[{i}]" for i in (1, 2, 3)),
                                    *(f"h1[{i}]" for i in (1, 2, 3)), "z2[1]", "z2[2]",
                                    "h2[1]", "h2[2]", "ŷ", "L"]  # fmt: skip
    for row in rows:  # ours, autograd's, and their difference for every unit
        assert abs(float(row[2]) - float(row[3])) <= 1e-6 and float(row[4]) <= 1e-10
    assert rows[-1][2] == "1"  # dL/dL
    assert held(at, "chain") and all_checks_pass(at)
    assert "chart_graph" in {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}


def test_stepping_forward_then_backward_one_node_at_a_time():
    at = open_page(PAGE, step="0")
    assert "nothing computed" in at.caption[0].value
    assert not at.latex
    at.button(key="step_forward").click().run()
    assert at.slider(key="step").value == 1
    assert "**z1**" in at.caption[0].value
    assert r"\sum_i x_{i}\,W^{(1)}_{i1}" in at.latex[0].value
    assert [r[0] for r in node_rows(at)] == ["z1[1]", "z1[2]", "z1[3]"]
    assert all(r[2] == "—" for r in node_rows(at))  # no gradient before the backward pass
    at.slider(key="step").set_value(7).run()  # the first backward step: the loss itself
    assert r"\frac{\partial L}{\partial L} &= 1" in at.latex[0].value
    at.slider(key="step").set_value(10).run()  # back at z2: dL/dh2 times tanh'(z2)
    assert r"\mathrm{tanh}'" in at.latex[0].value
    assert r"\frac{\partial L}{\partial W^{(2)}_{11}}" in at.latex[0].value
    at.button(key="step_back").click().run()
    assert at.slider(key="step").value == 9
    at.slider(key="step").set_value(12).run()
    at.button(key="step_forward").click().run()  # already at the end: stays there
    assert at.slider(key="step").value == 12


@pytest.mark.parametrize("name", activations.NAMES)
def test_every_activation_matches_autograd(name):
    at = open_page(PAGE, act=name)
    assert at.selectbox(key="act").value == name
    assert held(at, "chain") and all_checks_pass(at)


def test_network_shape_follows_the_typed_input_target_and_widths():
    at = open_page(PAGE, x="1; 2; 3; 4", target="1, 0, -1", widths="")
    assert at.slider(key="step").max == 4  # no hidden layer: ŷ and L only
    assert [r[0] for r in node_rows(at)] == ["ŷ[1]", "ŷ[2]", "ŷ[3]", "L"]
    assert held(at, "chain")
    at = open_page(PAGE, widths="6, 6, 6, 6", x="100, -100")
    assert at.slider(key="step").max == 20 and held(at, "chain")


@pytest.mark.parametrize(
    "key,text,message",
    [
        ("x", "1, banana", "is not a number"),
        ("x", "1, 2, 3, 4, 5", "Found 5 numbers"),
        ("target", "1e400", "not a finite number"),
        ("widths", "3, 9", "whole numbers from 1 to 6"),
        ("widths", "2.5", "whole numbers from 1 to 6"),
        ("widths", "1, 1, 1, 1, 1", "Found 5 numbers"),
    ],
)
def test_bad_typed_input_gets_a_specific_message_and_the_default(key, text, message):
    at = open_page(PAGE)
    at.text_input(key=key).input(text).run()
    assert not at.exception
    assert message in at.error[0].value and "default" in at.error[0].value
    assert at.slider(key="step").max == 12 and held(at, "chain")


# --- vanishing and exploding ----------------------------------------------------------------------


def test_depth_view_draws_one_line_per_activation_and_the_claim_holds():
    at = open_page(PAGE, view="depth")
    fig = chart(at, "chart_depth")
    assert [t["name"] for t in fig["data"]] == ["sigmoid", "tanh", "relu"]
    assert fig["layout"]["yaxis"]["type"] == "log"
    assert held(at, "vanish")
    assert "error at layer 1 is" in verdict(at, "vanish")
    assert all_checks_pass(at)
    assert any("Press Train" in c.value for c in at.caption)
    assert "Train to see" in verdict(at, "learn")  # the sweep has not run


def test_clipping_adds_the_unclipped_lines_and_caps_the_norm():
    at = open_page(PAGE, view="depth", init="large", acts="relu", clip="true", clip_norm="3.0")
    fig = chart(at, "chart_depth")
    names = [t["name"] for t in fig["data"]]
    assert names == ["relu", "relu (before clipping)"]
    assert at.select_slider(key="clip_norm").value == 3.0


def test_depth_verdict_says_what_to_change_when_nothing_vanishes():
    stable = open_page(PAGE, view="depth", init="he", acts="relu", width="64", depth="10")
    assert not held(stable, "vanish")
    assert "Nothing vanished or exploded" in verdict(stable, "vanish")
    shallow = open_page(PAGE, view="depth", depth="2")
    assert "too few factors" in verdict(shallow, "vanish")


@pytest.mark.parametrize("init", ["small", "xavier", "he", "large", "custom"])
def test_every_initialisation_and_extreme_depth(init):
    at = open_page(PAGE, view="depth", init=init, depth="50", seeds="5", scale="3")
    assert at.segmented_control(key="init").value == init
    assert at.select_slider(key="scale").disabled == (init != "custom")
    assert len(chart(at, "chart_depth")["data"]) == 3
    assert all_checks_pass(at)


def test_no_activation_picked_asks_for_one():
    at = open_page(PAGE, view="depth")
    at.multiselect(key="acts").set_value([]).run()
    assert not at.exception and "Pick at least one" in at.info[0].value


def test_brief_training_of_every_setting_shows_who_learns_and_is_cached_for_others():
    at = open_page(PAGE, view="depth")
    at.button(key="learn_train").click().run()
    assert at.button(key="learn_pause").label == "Pause"
    rerun_until(at, lambda a: "Train to see" not in verdict(a, "learn"))
    assert held(at, "learn"), verdict(at, "learn")
    assert "relu · He" in verdict(at, "learn") and "sigmoid · Xavier" in verdict(at, "learn")
    cells = chart(at, "chart_learn")["data"][0]["text"]
    assert len(cells) == 3 and all(len(row) == 4 for row in cells)
    # Another session with the same settings is shown the result without training.
    other = open_page(PAGE, view="depth")
    assert any("from the cache" in c.value for c in other.caption)
    assert held(other, "learn")
    assert not [b for b in other.button if b.key == "learn_train"]  # nothing left to train


# --- the training claim, and the dead ReLU --------------------------------------------------------


def test_training_claim_holds_and_the_curves_are_equal():
    at = open_page(PAGE, view="train")
    assert held(at, "train"), verdict(at, "train")
    fig = chart(at, "chart_train")
    assert [t["name"] for t in fig["data"]][:2] == ["ours (hand-written backward)",
                                                   "autograd + torch.optim"]  # fmt: skip
    assert float(at.metric[2].value) <= 1e-9
    assert all_checks_pass(at)


@pytest.mark.parametrize("opt", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
def test_every_optimizer_trains_identically(opt):
    at = open_page(PAGE, view="train", opt=opt, data="sine", epochs="5", lr="0.1")
    assert held(at, "train"), verdict(at, "train")


def test_a_diverging_run_says_so_without_crashing():
    at = open_page(PAGE, view="train", data="sine", opt="sgd", lr="1.0", train_act="relu",
                   layers="3", units="16", batch="8")  # fmt: skip
    assert not at.exception
    assert not held(at, "train") and "diverged" in verdict(at, "train")


def test_dead_relu_reuses_the_activation_experiment_and_links_to_it():
    at = open_page(PAGE, view="dead")
    assert held(at, "dead")
    before, after = (int(m.value.split("/")[0]) for m in at.metric[:2])
    assert after > before
    link = at.get("page_link")[0].proto
    assert link.page == "activations"
    assert "view=dead" in link.query_string and "lr=0.7" in link.query_string
    tiny = open_page(PAGE, view="dead", dead_lr="0.001")
    assert not held(tiny, "dead") and "stopped short" in verdict(tiny, "dead")
    assert all_checks_pass(at)


# --- claims, links, language ----------------------------------------------------------------------


@pytest.mark.parametrize("name,claim", [("chain", "chain"), ("vanish", "vanish"),
                                        ("train", "train"), ("dead", "dead")])  # fmt: skip
def test_every_claim_button_shows_its_claim_held(name, claim):
    at = open_page(PAGE, view="dead", dead_lr="0.001", step="3")
    at.button(key=f"preset_{name}").click().run()
    assert held(at, claim), verdict(at, claim)


def test_url_restores_the_view():
    at = open_page(PAGE, view="depth", depth="35", width="32", acts=["tanh", "relu"],
                   init="custom", scale="0.2", seeds="2", clip="true", lang="zh")  # fmt: skip
    assert at.segmented_control(key="view").value == "depth"
    assert at.slider(key="depth").value == 35 and at.select_slider(key="width").value == 32
    assert at.multiselect(key="acts").value == ["tanh", "relu"]
    assert at.segmented_control(key="init").value == "custom"
    assert at.select_slider(key="scale").value == 0.2 and at.slider(key="seeds").value == 2
    assert at.toggle(key="clip").value is True
    assert at.title[0].value == "反向传播与梯度"
    assert "成立" in verdict(at, "vanish") or "不成立" in verdict(at, "vanish")
    graph = open_page(PAGE, x="2, 1", widths="4", act="relu", seed="7", step="5")
    assert graph.text_input(key="widths").value == "4" and graph.slider(key="step").value == 5
    assert graph.selectbox(key="act").value == "relu" and graph.number_input(key="seed").value == 7


def test_tampered_url_falls_back_to_defaults():
    at = open_page(PAGE, view="bogus", step="-5", act="evil", seed="99999999", lang="xx")
    assert at.segmented_control(key="view").value == "graph"
    assert at.slider(key="step").value == 12 and at.selectbox(key="act").value == "tanh"
    assert at.title[0].value == "Backpropagation & gradients"
    depth = open_page(PAGE, view="depth", depth="999", width="7", init="evil", acts="nope")
    assert depth.slider(key="depth").value == 20 and depth.select_slider(key="width").value == 16
    assert depth.segmented_control(key="init").value == "xavier"
    train = open_page(PAGE, view="train", opt="sgd; drop", lr="9", epochs="1000")
    assert train.selectbox(key="opt").value == "adam" and train.slider(key="epochs").value == 20


def test_reset_restores_defaults_but_keeps_the_language():
    at = open_page(PAGE, view="depth", depth="7", lang="zh")
    at.button(key="frame_reset").click().run()
    assert at.segmented_control(key="view").value == "graph"
    assert at.title[0].value == "反向传播与梯度"


def test_chinese_prose_in_every_view():
    for view in ("graph", "depth", "train", "dead"):
        at = open_page(PAGE, view=view, lang="zh")
        assert at.title[0].value == "反向传播与梯度"
        assert not at.exception
