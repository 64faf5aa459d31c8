"""AppTest: the Loss functions page in every view, every control, URLs good and bad, uploads."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from dlcore import losses
from tests.app.conftest import check_rows, held, open_page, verdict

PAGE = "pages/losses.py"


def charts(at) -> set[str]:
    """Keys of the Plotly charts on the page."""
    return {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}


def all_checks_pass(at) -> bool:
    rows = check_rows(at)
    return bool(rows) and all(row["agrees"] == "✅" for row in rows)


def tables(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("| ")]


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


# --- every loss and its gradient -----------------------------------------------------------------


def test_default_view_draws_every_loss_against_its_axis_and_checks_pass():
    at = open_page(PAGE)
    assert at.title[0].value == "Loss functions"
    assert at.multiselect(key="fn").value == list(losses.NAMES)
    assert charts(at) == {
        f"chart_{kind}_{axis}"
        for kind in ("loss", "grad")
        for axis in ("residual", "margin", "distance")
    }
    assert held(at, "shapes")
    assert "MSE: ℓ′ = 2r keeps growing (|ℓ′| up to 8)" in verdict(at, "shapes")
    assert all_checks_pass(at)
    # the readout at the default prediction ŷ = 1.5, y = 0: MSE 2.25 with gradient 3
    first = tables(at)[0]
    assert "| MSE (L2) | 2.25 | 3 | 3 |" in first
    assert "| MAE (L1) | 1.5 | 1 | 1 |" in first


def test_moving_the_prediction_moves_the_readout():
    at = open_page(PAGE, fn=["mse", "huber"])
    at.slider(key="pred").set_value(-2.0).run()
    at.slider(key="target").set_value(1.0).run()
    at.slider(key="delta").set_value(0.5).run()
    ok(at)
    table = tables(at)[0]
    assert "| MSE (L2) | 9 | -6 | -6 |" in table
    assert "| Huber | 1.375 | -0.5 | -0.5 |" in table  # 0.5 (3 - 0.25) and the capped pull
    assert all_checks_pass(at)


def test_the_margin_losses_read_label_and_score():
    at = open_page(PAGE, fn=["bce_with_logits", "brier", "hinge", "cross_entropy"])
    assert charts(at) == {"chart_loss_margin", "chart_grad_margin"}
    at.slider(key="score").set_value(-6.0).run()
    table = tables(at)[0]
    assert "| Cross-entropy (BCE with logits) | 6.002 | -0.9975 | -0.9975 |" in table
    assert "| Hinge | 7 | -1 | -1 |" in table
    at.segmented_control(key="label").set_value("-1").run()  # now -6 is confidently right
    table = tables(at)[0]
    assert "| Hinge | 0 | 0 | 0 |" in table
    assert ok(at) and all_checks_pass(at)


def test_the_contrastive_readout_and_its_margin():
    at = open_page(PAGE, fn=["contrastive", "mse"])
    at.slider(key="margin").set_value(2.0).run()
    at.slider(key="dist").set_value(0.5).run()
    table = tables(at)[1]
    assert "| Contrastive — similar pair | 0.25 | 1 | 1 |" in table
    assert "| Contrastive — dissimilar pair | 2.25 | -3 | -3 |" in table
    assert all_checks_pass(at)
    at.slider(key="dist").set_value(0.0).run()  # no direction at d = 0: nothing to compare
    assert "| Contrastive — dissimilar pair | 4 | -4 | — |" in tables(at)[1]
    assert "let go at m = 2" in verdict(at, "shapes")


def test_quantile_and_its_q_slider():
    at = open_page(PAGE, fn=["quantile", "mae"])
    at.slider(key="q").set_value(0.25).run()
    assert "ℓ′ = −0.25 below, 1 − 0.25 above" in verdict(at, "shapes")
    assert held(at, "shapes")


def test_one_loss_is_not_a_comparison_and_none_asks_for_one():
    at = open_page(PAGE, fn=["hinge"])
    assert not held(at, "shapes")
    assert "Pick at least two losses" in verdict(at, "shapes")
    at.multiselect(key="fn").set_value([]).run()
    assert "Pick at least one loss" in at.info[0].value
    assert charts(ok(at)) == set()


# --- outliers ------------------------------------------------------------------------------------


def test_default_outliers_drag_mse_and_the_quantile_line_splits_q():
    at = open_page(PAGE, view="outliers")
    assert charts(at) == {"chart_fits"}
    assert held(at, "outliers"), verdict(at, "outliers")
    assert held(at, "quantile"), verdict(at, "quantile")
    assert "0.9 of the 60 points lie below" in verdict(at, "quantile")
    assert at.metric[0].value == "90.0%"
    assert all_checks_pass(at)
    table = tables(at)[0]
    assert "| MSE (L2) |" in table
    assert "(mean \\|Δŷ\\|) |" in table.splitlines()[0]  # escaped: the header stays 4 cells


@pytest.mark.parametrize("seed", ["0", "1", "2"])
def test_outlier_preset_holds_for_seeds_0_to_2(seed):
    at = open_page(PAGE, view="outliers", seed=seed)
    assert held(at, "outliers") and held(at, "quantile")


def test_every_outlier_control_and_the_advice_when_the_claim_fails():
    at = open_page(PAGE, view="outliers")
    at.slider(key="outliers").set_value(0).run()
    assert not held(at, "outliers")
    assert "There are no outliers to pull" in verdict(at, "outliers")
    at.slider(key="outliers").set_value(6).run()
    at.slider(key="shift").set_value(-1.0).run()
    assert "shift them further" in verdict(at, "outliers")
    at.slider(key="shift").set_value(15.0).run()
    at.slider(key="fit_delta").set_value(5.0).run()
    assert "behaves like MSE" in verdict(at, "outliers")
    at.slider(key="fit_delta").set_value(0.5).run()
    at.slider(key="fit_q").set_value(0.1).run()
    at.number_input(key="seed").set_value(7).run()
    assert held(at, "outliers") and held(at, "quantile")
    assert "With q = 0.1" in verdict(at, "quantile")
    assert ok(at) and all_checks_pass(at)


def upload(at: AppTest, name: str, content: bytes) -> AppTest:
    at.file_uploader(key="losses_upload").set_value((name, content, "text/csv")).run()
    return ok(at)


def csv_with_outliers(rows: int = 40) -> bytes:
    lines = ["hours;score;id"]
    for h in range(rows):
        score = 40 + 5 * h + (h % 3) + (80 if h % 10 == 3 else 0)  # 4 points far above
        lines.append(f"{h};{score};{h}")
    return ("\n".join(lines) + "\n").encode()


def test_the_sample_is_used_until_a_file_is_uploaded():
    at = open_page(PAGE, view="outliers", data="upload")
    assert any("regression_semicolon_decimal_comma.csv" in c.value for c in at.caption)
    assert charts(at) == {"chart_fits"} and all_checks_pass(at)
    assert held(at, "quantile")


def test_an_uploaded_csv_with_chosen_columns_and_its_outliers():
    at = upload(open_page(PAGE, view="outliers", data="upload"), "study.csv", csv_with_outliers())
    assert at.selectbox(key="x_col").value == "hours"
    assert at.selectbox(key="y_col").value == "id"
    at.selectbox(key="y_col").set_value("score").run()
    assert held(ok(at), "outliers"), verdict(at, "outliers")
    assert "Removing the 4 outliers" in verdict(at, "outliers")
    assert held(at, "quantile") and all_checks_pass(at)
    at.selectbox(key="x_col").set_value("id").run()  # id = hours: the same fit
    assert "Removing the 4 outliers" in verdict(ok(at), "outliers")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("picture.csv", b"\x89PNG\r\n\x1a\n" + bytes(200), "PNG image"),
        ("words.csv", b"name,colour\n" + b"ann,red\nbob,blue\n" * 10, "0 numeric column"),
        ("one.csv", b"x\n" + b"1\n2\n" * 10, "Only one column"),
        ("gaps.csv", b"x,y\n" + b"1,nan\n2,\n" * 5 + b"3,4\n" * 3, "Only 3 usable rows"),
        ("flat.csv", b"x,y\n" + b"2,1\n2,3\n" * 10, "holds one value only"),
        ("empty.csv", b"", "The file is empty"),
    ],
)
def test_bad_csvs_get_a_specific_message(name, content, message):
    at = upload(open_page(PAGE, view="outliers", data="upload"), name, content)
    assert message in at.error[0].value
    assert charts(at) == set()


def test_a_note_above_the_header_is_skipped_with_a_preview():
    at = open_page(PAGE, view="outliers", data="upload")
    at = upload(at, "study.csv", b"study of 2024\n\n" + csv_with_outliers())
    assert any("The first 2 line(s)" in i.value for i in at.info)
    assert list(at.dataframe[0].value.columns) == ["hours", "score", "id"]
    assert charts(at) == {"chart_fits"}


# --- contrastive ---------------------------------------------------------------------------------


def test_default_pairs_move_to_the_margin_and_match_torch():
    at = open_page(PAGE, view="contrastive")
    assert charts(at) == {"chart_embeddings", "chart_distances"}
    assert held(at, "contrastive"), verdict(at, "contrastive")
    assert "2 dissimilar pair(s) started beyond the margin and moved by 0" in verdict(
        at, "contrastive"
    )
    assert all_checks_pass(at)


def embedding_title(at) -> str:
    spec = next(c.proto.spec for c in at.get("plotly_chart") if "chart_embeddings" in c.proto.id)
    return json.loads(spec)["layout"]["title"]["text"]


def test_every_contrastive_control_and_its_advice():
    at = open_page(PAGE, view="contrastive")
    assert embedding_title(at).startswith("Embeddings after step 40")
    at.slider(key="shown").set_value(50).run()
    assert embedding_title(at).startswith("Embeddings after step 20")
    assert held(at, "contrastive")  # judged on the whole run, whatever step is shown
    at.slider(key="steps").set_value(2).run()
    assert "take more steps" in verdict(at, "contrastive")
    at.slider(key="steps").set_value(200).run()
    at.select_slider(key="pair_lr").set_value(0.2).run()
    at.slider(key="pairs").set_value(8).run()
    at.number_input(key="pair_seed").set_value(3).run()
    at.slider(key="pair_margin").set_value(3.0).run()
    assert held(at, "contrastive") and all_checks_pass(at)
    at.slider(key="pair_margin").set_value(0.0).run()
    assert "With margin 0 dissimilar pairs are never pushed" in verdict(at, "contrastive")
    at.slider(key="steps").set_value(0).run()
    assert ok(at) and charts(at) == {"chart_embeddings", "chart_distances"}


# --- cross-entropy against MSE -------------------------------------------------------------------


def test_default_classification_both_claims_hold():
    at = open_page(PAGE, view="classification")
    assert charts(at) == {"chart_pull", "chart_race"}
    assert held(at, "ce_gradient") and held(at, "ce_training")
    assert "3 of 3 MSE runs never did" in verdict(at, "ce_training")
    assert all_checks_pass(at)


def test_every_classification_control_and_its_advice():
    at = open_page(PAGE, view="classification")
    at.select_slider(key="p_true").set_value(0.9).run()
    assert "the prediction is right" in verdict(at, "ce_gradient")
    at.select_slider(key="p_true").set_value(0.2).run()
    assert "move p below 0.05" in verdict(at, "ce_gradient")
    at.select_slider(key="confidence").set_value(0.6).run()
    assert "MSE kept up" in verdict(at, "ce_training")
    at.select_slider(key="confidence").set_value(0.999).run()
    at.select_slider(key="class_lr").set_value(0.1).run()
    at.slider(key="epochs").set_value(10).run()
    assert "train for more epochs" in verdict(at, "ce_training")
    at.select_slider(key="class_lr").set_value(3.0).run()
    at.slider(key="epochs").set_value(300).run()
    at.number_input(key="class_seed").set_value(5).run()
    assert held(ok(at), "ce_training") and all_checks_pass(at)


# --- URLs, reset, language, device ---------------------------------------------------------------


def test_url_restores_the_view():
    at = open_page(
        PAGE, view="outliers", outliers="10", shift="-20", fit_q="0.3", fit_delta="0.8",
        seed="4", lang="zh",
    )  # fmt: skip
    assert at.segmented_control(key="view").value == "outliers"
    assert at.slider(key="outliers").value == 10
    assert at.slider(key="shift").value == -20.0
    assert at.slider(key="fit_q").value == 0.3
    assert at.slider(key="fit_delta").value == 0.8
    assert at.number_input(key="seed").value == 4
    assert at.title[0].value == "损失函数"
    at = open_page(PAGE, view="classification", p_true="0.001", confidence="0.99", epochs="50")
    assert at.select_slider(key="p_true").value == 0.001
    assert at.select_slider(key="confidence").value == 0.99
    assert at.slider(key="epochs").value == 50
    at = open_page(PAGE, fn=["mse", "hinge"], score="3.5", label="-1")
    assert at.multiselect(key="fn").value == ["mse", "hinge"]
    assert at.slider(key="score").value == 3.5
    assert at.segmented_control(key="label").value == "-1"


def test_tampered_url_falls_back_to_defaults():
    at = open_page(
        PAGE, view="bogus", fn=["nope", "mse", "hinge"], lang="xx", device="cuda:7", pred="999",
        delta="-3", label="zero",
    )  # fmt: skip
    assert at.segmented_control(key="view").value == "shapes"
    assert at.title[0].value == "Loss functions"
    assert at.selectbox(key="device").value == "auto"
    assert at.slider(key="pred").value == 1.5
    assert at.segmented_control(key="label").value == "+1"
    assert at.multiselect(key="fn").value == ["mse", "hinge"]
    at = open_page(PAGE, view="outliers", outliers="-4", fit_q="1.5", data="elsewhere", seed="x")
    assert at.slider(key="outliers").value == 6
    assert at.slider(key="fit_q").value == 0.9
    assert at.segmented_control(key="data").value == "generated"
    assert held(at, "outliers")
    at = open_page(PAGE, view="classification", p_true="0.42", class_lr="1e9", epochs="5")
    assert at.select_slider(key="p_true").value == 0.01
    assert at.select_slider(key="class_lr").value == 1.0
    assert at.slider(key="epochs").value == 100


def test_reset_restores_defaults_but_keeps_the_language():
    at = open_page(PAGE, view="contrastive", steps="7", pair_margin="2.5", lang="zh")
    at.button(key="frame_reset").click().run()
    assert at.segmented_control(key="view").value == "shapes"
    assert at.title[0].value == "损失函数"
    at.segmented_control(key="view").set_value("contrastive").run()
    assert at.slider(key="steps").value == 40
    assert at.slider(key="pair_margin").value == 1.5


def test_chinese_prose_and_verdicts_everywhere():
    at = open_page(PAGE, lang="zh")
    for view in ("shapes", "outliers", "contrastive", "classification"):
        at.segmented_control(key="view").set_value(view).run()
        ok(at)
        assert "结论" in at.markdown[1].value
        badges = [m.value for m in at.markdown if "-badge[" in m.value]
        assert badges and all("成立]" in b and "不成立" not in b for b in badges), badges
    assert check_rows(at)[0]["一致"] == "✅"


def test_forced_cpu_device_is_reported():
    at = open_page(PAGE, device="cpu", view="contrastive")
    assert any("CPU" in c.value for c in at.caption)


@pytest.mark.parametrize(
    ("view", "params", "claims"),
    [
        ("outliers", {"outliers": "20", "shift": "-30", "fit_q": "0.05", "fit_delta": "0.1"},
         ["quantile"]),
        ("outliers", {"outliers": "20", "shift": "30", "fit_q": "0.95", "fit_delta": "5"},
         ["quantile"]),
        ("contrastive", {"pairs": "1", "steps": "200", "pair_lr": "0.2", "pair_margin": "3"},
         ["contrastive"]),
        ("classification", {"p_true": "0.0001", "confidence": "0.9999", "class_lr": "3.0",
                            "epochs": "300"}, ["ce_gradient", "ce_training"]),
        ("shapes", {"pred": "-2", "target": "2", "score": "6", "label": "-1", "dist": "4",
                    "delta": "0.1", "q": "0.95", "margin": "0.25"}, ["shapes"]),
    ],
)  # fmt: skip
def test_extreme_controls_draw_and_hold_their_claims(view, params, claims):
    at = ok(open_page(PAGE, view=view, **params))
    for key, value in params.items():
        widget = next(w for w in at.main.get(key_type(key)) if w.key == key)
        assert widget.value == (value if key == "label" else float(value)), key
    for claim in claims:
        assert held(at, claim), verdict(at, claim)
    assert all_checks_pass(at)


def key_type(key: str) -> str:
    """The element type of a control, by its URL key."""
    if key in ("pair_lr", "p_true", "confidence", "class_lr"):
        return "select_slider"
    if key == "label":
        return "button_group"
    return "slider"
