import base64
import xml.etree.ElementTree as ET

import pytest

from modelcycle._charts import Panel, data_uri, figure, log_ticks, nice_ticks, number


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (0, 10, [0, 2, 4, 6, 8, 10]),
        (0, 27_000, [0, 10_000, 20_000]),
        (0.1, 0.45, [0.1, 0.2, 0.3, 0.4]),
        (5, 5, [5, 5.2, 5.4, 5.6, 5.8, 6]),
    ],
)
def test_nice_ticks(low: float, high: float, ticks: list[float]) -> None:
    assert nice_ticks(low, high) == pytest.approx(ticks)


def test_labels() -> None:
    assert [number(v) for v in (0, 1500, 2.5, 0.0025, 3_000_000)] == [
        "0", "1,500", "2.5", "0.0025", "3M",
    ]  # fmt: skip
    assert log_ticks((1, 25_000)) == [
        (1, "1"), (10, "10"), (100, "100"), (1000, "1k"), (10_000, "10k"),
    ]  # fmt: skip


def test_a_figure_is_valid_svg_with_its_marks_in_place() -> None:
    panel = Panel(x=(0, 10), y=(0, 4), title="T <&>", xlabel="x", ylabel="y")
    panel.stairs([1, 4], [0, 5, 10], "#000", fill=True)
    panel.line([0, 10], [0, 4], "#111")
    panel.dots([5], [2], "#222")
    panel.bars([5], [3], "#333", width=1)
    panel.vline(5)
    svg = figure([panel], width=400, height=300, legend=[("a", "#444")], alt="alt text")
    root = ET.fromstring(svg)  # well-formed, text escaped
    assert root.get("width") == "400"
    assert "T <&>" in "".join(root.itertext())
    assert base64.b64decode(data_uri(svg).split(",", 1)[1]).decode() == svg
    # the dot at (5, 2) sits in the middle of the plotting area
    (circle,) = root.iter("{http://www.w3.org/2000/svg}circle")
    assert float(circle.get("cx", "0")) == pytest.approx(panel.px(5))
    assert panel.px(0) < float(circle.get("cx", "0")) < panel.px(10)
    assert panel.py(4) < float(circle.get("cy", "0")) < panel.py(0)
