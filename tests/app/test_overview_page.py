"""AppTest: the Overview page (the default page) and the navigation."""

from tests.app.conftest import check_rows, open_page


def test_overview_is_the_default_page_and_links_to_every_page():
    at = open_page()
    assert at.title[0].value == "Deep learning, claim by claim"
    links = at.get("page_link")
    assert [link.proto.page for link in links] == [
        "playground", "activations", "losses", "backprop", "gradient_descent", "cnn", "rnn",
    ]  # fmt: skip
    assert any("PyTorch" in caption.value for caption in at.caption)


def test_overview_in_chinese():
    at = open_page(lang="zh")
    assert at.title[0].value == "深度学习，一条结论一个实验"
    labels = [link.proto.label for link in at.get("page_link")]
    assert labels == [
        "神经元与训练场", "激活函数", "损失函数", "反向传播与梯度", "梯度下降",
        "卷积网络：滤波器与池化", "循环网络：RNN、LSTM 与 GRU",
    ]  # fmt: skip


def test_overview_tampered_language_falls_back_to_english():
    at = open_page(lang="<script>alert(1)</script>")
    assert at.title[0].value == "Deep learning, claim by claim"


def _studies_done(limit_s: float = 90.0) -> None:
    """Look at both shared studies (as a watching session would) until they have trained."""
    import functools
    import time

    from ui import studies
    from ui.engine import engine, shared_runs

    grid, race = studies.scale_grid("teacher"), studies.race_grid()
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        views = [
            shared_runs().view(("scale", grid), functools.partial(studies.scale_study, grid),
                               len(grid.specs()), engine()),
            shared_runs().view(("race", race), functools.partial(studies.race_study, race),
                               len(race.specs()), engine()),
        ]  # fmt: skip
        if not any(v.running for v in views):
            assert [v.state for v in views] == ["done", "done"]
            return
        time.sleep(0.2)
    raise AssertionError("the studies did not finish")


def test_both_studies_train_in_the_background_and_judge_their_claims():
    at = open_page()
    assert "Why deep learning now" in [h.value for h in at.subheader]
    scale = next(m.value for m in at.markdown if "plateaus" in m.value)
    assert "Training…" in scale or "Held" in scale  # trains by itself, no Train button
    _studies_done()
    at.run()
    assert not at.exception
    scale = next(m.value for m in at.markdown if "plateaus" in m.value)
    race = next(m.value for m in at.markdown if "Swapping sigmoid" in m.value)
    assert "Held" in scale and "largest net reaches" in scale
    assert "Held" in race and "ReLU's training loss is" in race
    assert len(at.get("plotly_chart")) == 2
    rows = check_rows(at)
    assert rows[0]["agrees"] == "✅"


def test_the_data_set_of_the_scale_study_is_in_the_link():
    at = open_page(scale_data="digits")
    assert any("handwritten digits" in c.value for c in at.caption)
    at = open_page(scale_data="imagenet")  # tampered: the default comes back
    assert any("Generated data" in c.value for c in at.caption)
