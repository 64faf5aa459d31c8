"""AppTest: the page frame's share link reopens the same view; reset; device choice."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.app.conftest import open_page

PAGE = "pages/activations.py"


def share_link(at) -> str:
    return at.sidebar.code[0].value


def reopen(link: str):
    params = parse_qs(urlsplit(link).query)
    return open_page(PAGE, **{k: v if len(v) > 1 else v[0] for k, v in params.items()})


def test_default_view_shares_a_clean_link():
    at = open_page(PAGE)
    assert share_link(at) == "http://localhost:8501/activations"


def test_share_link_reopens_every_changed_control():
    at = open_page(PAGE)
    at.segmented_control(key="lang").set_value("zh").run()
    at.multiselect(key="fn").set_value(["elu", "gelu"]).run()
    at.slider(key="elu_alpha").set_value(2.5).run()
    at.toggle(key="gelu_tanh").set_value(True).run()
    at.slider(key="x").set_value((-3.0, 8.5)).run()
    again = reopen(share_link(at))
    assert again.segmented_control(key="lang").value == "zh"
    assert again.multiselect(key="fn").value == ["elu", "gelu"]
    assert again.slider(key="elu_alpha").value == 2.5
    assert again.toggle(key="gelu_tanh").value is True
    assert again.slider(key="x").value == (-3.0, 8.5)


def test_share_link_reopens_a_non_default_view():
    at = open_page(PAGE)
    at.segmented_control(key="view").set_value("dead").run()
    at.select_slider(key="lr").set_value(2.0).run()
    at.slider(key="hidden").set_value(40).run()
    at.number_input(key="dead_seed").set_value(17).run()
    link = share_link(at)
    assert "view=dead" in link
    again = reopen(link)
    assert again.segmented_control(key="view").value == "dead"
    assert again.select_slider(key="lr").value == 2.0
    assert again.slider(key="hidden").value == 40
    assert again.number_input(key="dead_seed").value == 17
    assert [m.value for m in again.metric] == [m.value for m in at.metric]


def test_share_offers_the_network_link_and_a_qr_code_for_the_class(monkeypatch):
    from streamlit import net_util

    monkeypatch.setattr(net_util, "get_internal_ip", lambda: "10.1.2.3")
    at = open_page(PAGE, fn="relu")
    assert [c.value for c in at.sidebar.code] == [
        "http://localhost:8501/activations?fn=relu",
        "http://10.1.2.3:8501/activations?fn=relu",
    ]
    assert at.sidebar.get("image"), "the share panel shows a QR code"


def test_share_says_when_the_server_only_listens_locally(monkeypatch):
    from streamlit import net_util

    monkeypatch.setattr(net_util, "get_internal_ip", lambda: "127.0.0.1")
    at = open_page(PAGE)
    assert not at.sidebar.get("image")
    assert any("--server.address 0.0.0.0" in c.value for c in at.sidebar.caption)


def test_device_choice_offers_only_devices_this_server_has():
    import torch

    at = open_page(PAGE)
    options = at.selectbox(key="device").options
    assert options[0] == "Auto (per workload)"
    assert ("CUDA" in " ".join(options)) == torch.cuda.is_available()
