"""AppTest: the Overview page (the default page) and the navigation."""

from tests.app.conftest import open_page


def test_overview_is_the_default_page_and_links_to_activations():
    at = open_page()
    assert at.title[0].value == "Deep learning, claim by claim"
    links = at.get("page_link")
    assert [link.proto.page for link in links] == ["activations"]
    assert any("PyTorch" in caption.value for caption in at.caption)


def test_overview_in_chinese():
    at = open_page(lang="zh")
    assert at.title[0].value == "深度学习，一条结论一个实验"
    assert at.get("page_link")[0].proto.label == "激活函数"


def test_overview_tampered_language_falls_back_to_english():
    at = open_page(lang="<script>alert(1)</script>")
    assert at.title[0].value == "Deep learning, claim by claim"
