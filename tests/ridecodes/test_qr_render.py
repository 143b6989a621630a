"""A rendered ride code scans back, through a real QR decoder, to the exact
text, which then verifies at the gate."""

from __future__ import annotations

import importlib
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from farebridge.codecs.ridecode import TEXT_PREFIX

from .conftest import Scene


def _require(module: str) -> Any:
    """The renderer's libraries and the decoder: skipped where missing, as the
    PostgreSQL tests are, except under CI=true, where they must be installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"{module} is not installed", allow_module_level=True)


qrcode = _require("qrcode")
Image = _require("PIL.Image")
zxingcpp = _require("zxingcpp")

from farebridge.codecs.qr_render import render_png, render_svg, render_terminal  # noqa: E402

MODULE_PIXELS = 4
QUIET_ZONE = 4


def _scan(image: object) -> str:
    results = zxingcpp.read_barcodes(image)
    assert [result.format for result in results] == [zxingcpp.BarcodeFormat.QRCode]
    assert results[0].ec_level == "M"
    text: str = results[0].text
    return text


def _scan_file(path: Path) -> str:
    with Image.open(path) as image:
        return _scan(image)


def test_png_scans_back_and_verifies(scene: Scene, tmp_path: Path) -> None:
    text = scene.rider("tok-ana-5f1c0a9b2d7e4c31").code(0, 7)
    path = tmp_path / "code.png"
    render_png(text, path, module_pixels=MODULE_PIXELS)
    scanned = _scan_file(path)
    assert scanned == text
    assert scene.scan(scanned, 1).rider_token == "tok-ana-5f1c0a9b2d7e4c31"


def test_ride_codes_use_alphanumeric_mode(scene: Scene, tmp_path: Path) -> None:
    """Alphanumeric mode is why the format is base45: a ~340-character code
    fits QR version 11 at level M; in byte mode it would need version 14, and
    as base64url in byte mode version 13."""
    text = scene.rider("tok-ana-5f1c0a9b2d7e4c31").code(0, 7)
    assert 320 < len(text) <= 362  # version 11-M holds 362 alphanumeric characters
    path = tmp_path / "code.png"
    render_png(text, path, module_pixels=MODULE_PIXELS)
    with Image.open(path) as image:
        modules = image.size[0] // MODULE_PIXELS - 2 * QUIET_ZONE
    assert (modules - 17) // 4 == 11


def test_other_text_still_renders(tmp_path: Path) -> None:
    text = "https://example.org/ride?lang=zh&名=1"
    path = tmp_path / "url.png"
    render_png(text, path)
    assert _scan_file(path) == text


def test_svg_is_one_standalone_svg_document(scene: Scene) -> None:
    svg = render_svg(scene.rider().code(0, 1))
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(root.findall("{http://www.w3.org/2000/svg}path")) == 1


def _terminal_image(drawing: str, *, dark_background: bool) -> object:
    """Paints the half-block characters back into pixels, as a screen would."""
    tops = {" ": False, "\u2580": True, "\u2584": False, "\u2588": True}
    bottoms = {" ": False, "\u2580": False, "\u2584": True, "\u2588": True}
    rows: list[list[bool]] = []
    for line in drawing.splitlines():
        rows += ([tops[c] for c in line], [bottoms[c] for c in line])
    image = Image.new("L", (len(rows[0]), len(rows)))
    for y, row in enumerate(rows):
        for x, ink in enumerate(row):
            image.putpixel((x, y), 255 if ink == dark_background else 0)
    return image.resize((image.width * 4, image.height * 4), Image.Resampling.NEAREST)


@pytest.mark.parametrize("dark_background", [True, False])
def test_terminal_drawing_scans_back(scene: Scene, dark_background: bool) -> None:
    text = scene.rider().code(0, 3)
    drawing = render_terminal(text, dark_background=dark_background)
    assert set(drawing) <= {" ", "\u2580", "\u2584", "\u2588", "\n"}
    assert _scan(_terminal_image(drawing, dark_background=dark_background)) == text
    assert text.startswith(TEXT_PREFIX)
