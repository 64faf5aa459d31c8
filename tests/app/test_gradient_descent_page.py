"""AppTest: the Gradient descent page: every view, extremes, good and bad URLs, uploads."""

from __future__ import annotations

import re
import tomllib

import pytest
from streamlit.testing.v1 import AppTest

from dlcore import optim, surfaces
from tests.app.conftest import check_rows, open_page
from ui.i18n import CONTENT, LANGUAGES

PAGE = "pages/gradient_descent.py"
VIEWS = ("plain", "restarts", "race", "data")
LANGS = tuple(LANGUAGES)
FIELD = re.compile(r"\{(\w+)")  # the {name} fields a text is filled with


def open_gd(**params: str | list[str]) -> AppTest:
    """The page through app.py, with `params` in the URL, as a shared link opens it."""
    at = open_page(PAGE, **params)
    assert at.title[0].value in ("Gradient descent", "梯度下降")
    return at


def charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def all_checks_pass(at: AppTest) -> bool:
    rows = check_rows(at)
    return bool(rows) and all(row["agrees"] == "✅" for row in rows)


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def tables(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("| ")]


def test_default_view_is_plain_gd_on_the_quadratic_with_checks():
    at = open_gd()
    assert at.segmented_control(key="view").value == "plain"
    assert at.selectbox(key="surface").value == "quadratic"
    assert (at.number_input(key="x0").value, at.number_input(key="y0").value) == (-1.5, 2.0)
    assert charts(at) == 2  # the map and f against iteration
    assert metric(at, "Step size") == "good"
    assert metric(at, "Stopped") == "converged"
    assert all_checks_pass(at)
    labels = [row["Our from-scratch result vs the PyTorch built-in"] for row in check_rows(at)]
    assert labels == [
        "our ∇f at (-1.5, 2) vs autograd",
        "GD: each of the first 25 steps vs torch.optim + autograd",
    ]
    assert any("first-order forecast" in m.value for m in at.markdown)
    code = [c.value for c in at.code]
    assert any("def run(" in c for c in code) and any("def quadratic_gradient(" in c for c in code)


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_draws_its_charts_and_checks_pass(view):
    at = open_gd(view=view)
    assert charts(at) >= 1
    assert not at.error
    assert all_checks_pass(at)


@pytest.mark.parametrize(
    "lr,regime,stopped",
    [
        ("0.001", "too small", "iteration cap"),
        ("0.1", "good", "converged"),
        ("0.15", "oscillating", "converged"),
        ("0.25", "diverging", "diverged"),
    ],
)
def test_the_step_size_slider_shows_each_regime(lr, regime, stopped):
    at = open_gd(lr=lr)
    assert metric(at, "Step size") == regime
    assert metric(at, "Stopped") == stopped
    steps = int(metric(at, "Steps taken"))
    assert steps == 200 if stopped == "iteration cap" else 0 < steps < 200
    assert all_checks_pass(at)  # a diverging run is compared up to the step before it blew up


def test_tilted_plane_ends_at_the_iteration_cap_and_says_so():
    at = open_gd(surface="tilted_plane", steps="300")
    assert metric(at, "Stopped") == "iteration cap"
    assert metric(at, "Steps taken") == "300"
    assert "iteration cap" in at.warning[0].value and "300 steps" in at.warning[0].value


@pytest.mark.parametrize("name", surfaces.NAMES)
def test_every_surface_in_every_surface_view(name):
    at = open_gd(surface=name)
    assert charts(at) == 2 and all_checks_pass(at)
    at.segmented_control(key="view").set_value("restarts").run()
    at.selectbox(key="restart_surface").set_value(name).run()
    assert not at.exception and all_checks_pass(at)
    at.segmented_control(key="view").set_value("race").run()
    at.selectbox(key="race_surface").set_value(name).run()
    assert not at.exception and all_checks_pass(at)


def test_plain_controls_at_their_extremes():
    at = open_gd(kappa="100", angle="90", lr="1", steps="1", tol="1e-08", x0="10", y0="-10")
    assert at.slider(key="kappa").value == 100.0
    assert at.number_input(key="x0").value == 10.0
    assert charts(at) == 2 and all_checks_pass(at)
    at.select_slider(key="lr").set_value(0.0001).run()
    at.slider(key="steps").set_value(1000).run()
    at.select_slider(key="tol").set_value(0.01).run()
    at.number_input(key="x0").set_value(-10.0).run()
    at.toggle(key="show3d").set_value(True).run()
    assert not at.exception
    assert charts(at) == 3  # the 3-D view joins the map and the f curve
    assert metric(at, "Step size") == "too small"


def test_restarts_at_extremes_and_a_seed_makes_them_reproducible():
    at = open_gd(view="restarts", starts="200", restart_steps="2000", seed="9999")
    assert charts(at) == 1 and all_checks_pass(at)
    basins = tables(at)[0]
    assert basins.count("\n| minimum ") == 4  # Himmelblau's four minima, below the header
    again = open_gd(view="restarts", starts="200", restart_steps="2000", seed="9999")
    assert tables(again)[0] == basins
    at.slider(key="starts").set_value(1).run()
    at.slider(key="restart_steps").set_value(10).run()
    at.selectbox(key="restart_opt").set_value("adam").run()
    at.select_slider(key="restart_lr").set_value(1.0).run()
    assert not at.exception and all_checks_pass(at)
    assert "no minimum reached" in tables(at)[0]


def test_restarts_on_a_typed_function_find_its_unlisted_minima():
    at = open_gd(view="restarts", restart_surface="custom", expr="(x**2 - 4)**2/10 + y**2")
    rows = [row.split("|") for row in tables(at)[0].splitlines()[2:]]
    places = sorted(tuple(float(v) for v in row[2].strip(" ()").split(",")) for row in rows)
    assert places == [(-2.0, 0.0), (2.0, 0.0)]  # (x^2 - 4)^2 / 10 + y^2: minima at x = ±2
    assert "-0.000" not in tables(at)[0]
    assert sum(int(row[4].split()[0]) for row in rows) == 60  # every start reached one


def test_race_every_optimizer_with_its_hyper_parameters_at_extremes():
    at = open_gd(view="race")
    assert at.multiselect(key="opts").value == list(optim.NAMES)
    assert len(check_rows(at)) == 1 + len(optim.NAMES)
    for key in ("mu_momentum", "mu_nesterov", "alpha_rmsprop", "beta1_adam", "beta2_adam"):
        slider = at.slider(key=key)
        slider.set_value(slider.max).run()
        assert not at.exception
        slider.set_value(slider.min).run()
        assert not at.exception
    for name in optim.NAMES:
        at.select_slider(key=f"lr_{name}").set_value(1.0).run()
    at.slider(key="race_steps").set_value(2000).run()
    assert not at.exception
    assert all_checks_pass(at)
    race = tables(at)[0]
    assert "diverged at step" in race  # plain GD at lr 1 flies off Rosenbrock


def test_race_with_no_optimizer_asks_for_one():
    at = open_gd(view="race")
    at.multiselect(key="opts").set_value([]).run()
    assert not at.exception
    assert "Pick at least one" in at.info[0].value
    assert charts(at) == 0


def test_url_restores_the_view():
    at = open_gd(
        view="race",
        race_surface="beale",
        opts=["sgd", "adam"],
        lr_adam="0.1",
        beta1_adam="0.5",
        x0="0.5",
        y0="-1",
        race_steps="300",
        tol="1e-06",
    )
    assert at.segmented_control(key="view").value == "race"
    assert at.selectbox(key="race_surface").value == "beale"
    assert at.multiselect(key="opts").value == ["sgd", "adam"]
    assert at.select_slider(key="lr_adam").value == 0.1
    assert at.slider(key="beta1_adam").value == 0.5
    assert (at.number_input(key="x0").value, at.number_input(key="y0").value) == (0.5, -1.0)
    assert at.slider(key="race_steps").value == 300
    assert at.select_slider(key="tol").value == 1e-6
    assert "our ∇f at (0.5, -1) vs autograd" in [
        row["Our from-scratch result vs the PyTorch built-in"] for row in check_rows(at)
    ]


def test_tampered_url_falls_back_to_defaults():
    at = open_gd(
        view="bogus",
        surface="__import__('os')",
        lr="7",
        steps="-5",
        tol="abc",
        kappa="1e9",
        x0="abc",
        y0="1e99",
    )
    assert at.segmented_control(key="view").value == "plain"
    assert at.selectbox(key="surface").value == "quadratic"
    assert at.select_slider(key="lr").value == 0.1
    assert at.slider(key="steps").value == 200
    assert at.select_slider(key="tol").value == 1e-4
    assert at.number_input(key="x0").value == -1.5
    assert charts(at) == 2 and all_checks_pass(at)
    race = open_gd(view="race", opts=["nope", "adam"], race_surface="nope", lr_adam="huge")
    assert race.selectbox(key="race_surface").value == "rosenbrock"
    assert race.select_slider(key="lr_adam").value == 0.05


@pytest.mark.parametrize(
    "text,message",
    [
        ("__import__('os')", "unknown name '__import__'"),
        ("x.__class__", "no attribute access"),
        ("lambda: 1", "unknown name 'lambda'"),
        ("[x for x in y]", "'[' at position 1 is not allowed"),
        ("x**99999", "within ±100"),
        ("x+" * 150 + "x", "the limit is 200"),
        ("(" * 40 + "x" + ")" * 40, "nests more than 30 levels"),
        ("", "the expression is empty"),
        ("sin(x", "missing ')'"),
    ],
)
def test_a_bad_expression_is_explained_and_the_example_drawn(text, message):
    at = open_gd(surface="custom")
    at.text_input(key="expr").input(text).run()
    assert not at.exception
    assert "cannot be used" in at.error[0].value
    assert any(message in c.value for c in at.code)
    assert charts(at) == 2 and all_checks_pass(at)
    assert any("x^{2}" in latex.value for latex in at.latex)  # the example: sin(x) y + x^2/10


def test_a_typed_expression_descends_with_its_symbolic_gradient():
    at = open_gd(surface="custom", expr="(x - 1)**2 + 3*(y + 2)**2", lr="0.1")
    assert not at.error
    assert metric(at, "Stopped") == "converged"
    assert all_checks_pass(at)


def test_a_function_undefined_at_the_start_says_so():
    at = open_gd(surface="custom", expr="sqrt(-1 - x**2)")
    assert metric(at, "Stopped") == "diverged" and metric(at, "Steps taken") == "0"
    assert "not a finite number at the start" in at.warning[0].value
    assert charts(at) == 2 and all_checks_pass(at)


def test_english_and_chinese_prose_have_the_same_keys_and_fields():
    en, zh = (
        tomllib.loads((CONTENT / lang / "gradient_descent.toml").read_text("utf-8"))
        for lang in LANGS
    )
    assert set(en) == set(zh)
    for key in en:
        assert sorted(FIELD.findall(en[key])) == sorted(FIELD.findall(zh[key])), key


def test_chinese_prose_everywhere():
    at = open_gd()
    at.segmented_control(key="lang").set_value("zh").run()
    assert at.title[0].value == "梯度下降"
    for view in VIEWS:
        at.segmented_control(key="view").set_value(view).run()
        assert not at.exception
        assert "结论" in at.markdown[1].value


def test_reset_restores_defaults():
    at = open_gd(view="race", race_steps="100", x0="3")
    at.button(key="frame_reset").click().run()
    assert at.segmented_control(key="view").value == "plain"
    assert at.number_input(key="x0").value == -1.5


# --- your data -----------------------------------------------------------------------------------


def upload(at: AppTest, name: str, content: bytes) -> AppTest:
    at.file_uploader(key="gd_upload").set_value((name, content, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def good_csv(rows: int = 30) -> bytes:
    lines = ["hours,score"] + [f"{h},{40 + 5 * h + (h % 3)}" for h in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def test_the_sample_is_used_until_a_file_is_uploaded():
    at = open_gd(view="data")
    assert any("housing_small.csv" in c.value for c in at.caption)
    assert at.selectbox(key="x_col").value == "area_m2"
    assert at.selectbox(key="y_col").value == "price_k"
    assert at.toggle(key="standardise").value  # by default the round bowl, where GD gets there
    assert charts(at) == 2 and all_checks_pass(at)
    at.toggle(key="standardise").set_value(False).run()
    assert float(metric(at, "Condition number of the bowl")) > 1e3


def test_standardising_makes_the_bowl_round_and_a_big_step_fits_at_once():
    at = open_gd(view="data", standardise="true", data_lr="0.5")
    assert float(metric(at, "Condition number of the bowl")) == pytest.approx(1.0)
    assert metric(at, "Stopped") == "converged"
    assert int(metric(at, "Steps taken")) <= 25
    assert float(metric(at, "MSE above the least-squares MSE")) < 1e-9
    raw = open_gd(view="data", standardise="false", data_lr="0.5")
    assert metric(raw, "Stopped") == "diverged"


def test_a_good_csv_fits_its_line():
    at = upload(open_gd(view="data", standardise="false"), "study.csv", good_csv())
    assert at.selectbox(key="x_col").value == "hours"
    assert at.selectbox(key="y_col").value == "score"
    assert any("Least-squares line: score ≈ 5" in c.value for c in at.caption)
    assert charts(at) == 2 and all_checks_pass(at)
    at.toggle(key="standardise").set_value(True).run()
    at.slider(key="data_steps").set_value(5000).run()
    at.select_slider(key="data_lr").set_value(1e-06).run()
    assert not at.exception and all_checks_pass(at)


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("picture.csv", b"\x89PNG\r\n\x1a\n" + bytes(200), "PNG image"),
        ("words.csv", b"name,colour\n" + b"ann,red\nbob,blue\n" * 10, "0 numeric column"),
        ("one.csv", b"x\n" + b"1\n2\n" * 10, "Only one column"),
        ("gaps.csv", b"x,y\n" + b"1,nan\n2,\n" * 5 + b"3,4\n" * 3, "Only 3 usable rows"),
        ("flat.csv", b"x,y\n" + b"2,1\n2,3\n" * 10, "same value in every row"),
        ("empty.csv", b"", "The file is empty"),
    ],
)
def test_bad_csvs_get_a_specific_message(name, content, message):
    at = upload(open_gd(view="data"), name, content)
    assert message in at.error[0].value
    assert charts(at) == 0


def test_a_csv_with_some_missing_values_reports_the_dropped_rows():
    content = b"x,y\n" + b"".join(f"{i},{2 * i}\n".encode() for i in range(20)) + b"5,NA\n"
    at = upload(open_gd(view="data"), "gaps.csv", content)
    assert any("1 rows with missing" in c.value for c in at.caption)
    assert all_checks_pass(at)


def test_data_messages_in_chinese():
    at = open_gd(view="data")
    at.segmented_control(key="lang").set_value("zh").run()
    upload(at, "one.csv", b"x\n" + b"1\n2\n" * 10)
    assert "只找到一列" in at.error[0].value or "一列" in at.error[0].value


def test_a_note_above_the_header_is_skipped_with_a_preview_and_fits():
    note = b"study of 2024\n\n"  # a title and a blank line above the header
    at = upload(open_gd(view="data"), "study.csv", note + good_csv())
    assert any("The first 2 line(s)" in i.value for i in at.info)
    skip = next(w for w in at.number_input if str(w.key).startswith("upload_skip_"))
    assert skip.value == 2
    assert list(at.dataframe[0].value.columns) == ["hours", "score"]
    assert at.selectbox(key="x_col").value == "hours"
    assert any(c.value.startswith("Least-squares line") and "score" in c.value for c in at.caption)
    assert charts(at) == 2 and all_checks_pass(at)
    skip.set_value(0).run()  # the title read as the only column name: refused
    assert "Line 3 has 2 values, but the first row has 1" in at.error[0].value
    assert charts(at) == 0


# --- verdicts: every experiment's default shows its claim; a setting can break it ---------------


def verdict(at: AppTest, claim: str) -> str:
    """The text of the verdict element the frame keyed `verdict_<claim>`."""
    blocks = [at._tree]
    while blocks:
        block = blocks.pop()
        if getattr(block, "key", None) == f"verdict_{claim}":
            return "\n".join(m.value for m in block.children.values())
        blocks.extend(c for c in getattr(block, "children", {}).values() if hasattr(c, "children"))
    raise AssertionError(f"no verdict_{claim} on the page")


def held(at: AppTest, claim: str) -> bool:
    text = verdict(at, claim)
    return "Held" in text or ("成立" in text and "不成立" not in text)


@pytest.mark.parametrize(
    ("params", "claims"),
    [
        ({}, ("taylor", "regime", "convex")),
        ({"surface": "tilted_plane"}, ("taylor", "cap")),
        ({"view": "restarts", "seed": "0"}, ("restarts",)),
        ({"view": "restarts", "seed": "1"}, ("restarts",)),
        ({"view": "restarts", "seed": "2"}, ("restarts",)),
        ({"view": "race"}, ("race",)),
        ({"view": "data"}, ("data",)),
    ],
)
def test_each_experiment_shows_its_claim_at_its_defaults(params, claims):
    at = open_gd(**params)
    for claim in claims:
        assert held(at, claim), verdict(at, claim)


def test_the_race_names_its_winner_which_is_not_adam_here():
    text = verdict(open_gd(view="race"), "race")
    assert "Best here: Nesterov" in text and "plain GD: f = 4.47" in text
    assert "Nesterov › Momentum › Adam" in text


@pytest.mark.parametrize(
    ("lr", "failing", "advice"),
    [
        ("0.001", "convex", "it needs about 9,611 steps"),
        ("0.25", "convex", "at or above 2/κ = 0.2"),
        ("0.25", "taylor", "try η ≤ 0.2"),
    ],
)
def test_a_step_size_that_breaks_the_bowls_claim_says_what_to_change(lr, failing, advice):
    at = open_gd(lr=lr)
    assert not held(at, failing)
    assert "Did not hold here" in verdict(at, failing) and advice in verdict(at, failing)
    assert held(at, "regime")  # each regime is what its step size predicts


def test_a_start_on_the_valley_floor_cannot_zigzag():
    at = open_gd(lr="0.15", x0="-1.5", y0="0")
    assert "on the valley floor" in verdict(at, "regime")


@pytest.mark.parametrize(
    ("params", "claim", "advice"),
    [
        ({"view": "restarts", "restart_surface": "quadratic"}, "restarts", "single minimum"),
        ({"view": "restarts", "starts": "1"}, "restarts", "raise the number of starts"),
        ({"view": "race", "opts": ["adam", "nesterov"]}, "race", "add GD"),
        ({"view": "data", "standardise": "false"}, "data", "try η ≤ 0.0001"),
        ({"view": "data", "standardise": "false", "data_lr": "0.0001"}, "data", "Standardise"),
    ],
)
def test_a_setting_that_breaks_a_claim_gets_advice(params, claim, advice):
    at = open_gd(**params)
    assert not held(at, claim) and advice in verdict(at, claim), verdict(at, claim)


def test_verdicts_in_chinese():
    at = open_gd(lr="0.25")
    at.segmented_control(key="lang").set_value("zh").run()
    assert "成立" in verdict(at, "regime") and "不成立" not in verdict(at, "regime")
    assert "此处不成立" in verdict(at, "convex") and "η ≤ 0.18" in verdict(at, "convex")
