"""AppTest: the Overview page (the default page) and the navigation."""

from tests.app.conftest import open_page


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
