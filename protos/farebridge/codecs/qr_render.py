"""Draws ride code text as a QR symbol: PNG for apps, SVG for the web, text
blocks for a terminal.

Error correction is level M (15% of the symbol may be lost): the common choice
for codes shown on a phone screen, where glare and cracks cost a little but a
bigger symbol would cost scan distance. Text made only of QR's alphanumeric
characters, as every ``FB1:`` ride code is, goes into one alphanumeric segment
(5.5 bits a character); anything else is segmented by the library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import qrcode
import qrcode.constants
import qrcode.util
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathImage

# The four half-block characters, indexed by (top is ink) + 2 * (bottom is ink).
_HALF_BLOCKS = (" ", "\u2580", "\u2584", "\u2588")
# A scanner needs four light modules around the symbol (ISO/IEC 18004 quiet zone).
_QUIET_ZONE = 4
_MODE_ALPHANUMERIC: Final = 2  # qrcode.util.MODE_ALPHA_NUM, as the literal the stubs ask for


def render_png(text: str, path: Path, *, module_pixels: int = 8) -> None:
    """Writes the symbol for ``text`` to ``path`` as a black-on-white PNG."""
    image = _symbol(text, module_pixels).make_image(image_factory=PilImage)
    image.save(path, format="PNG")


def render_svg(text: str) -> str:
    """The symbol as a standalone SVG document (one path, scales cleanly)."""
    image = _symbol(text).make_image(image_factory=SvgPathImage)
    return image.to_string(encoding="unicode")


def render_terminal(text: str, *, dark_background: bool = True) -> str:
    """The symbol as lines of half-block characters, two modules per character.

    Scanners want dark modules on a light ground. On a dark terminal the
    characters' ink must therefore draw the light modules (the default);
    pass ``dark_background=False`` for a light terminal.
    """
    matrix = _symbol(text).get_matrix()
    if len(matrix) % 2:
        matrix.append([False] * len(matrix[0]))
    ink = [[module != dark_background for module in row] for row in matrix]
    lines = (
        "".join(_HALF_BLOCKS[top + 2 * bottom] for top, bottom in zip(upper, lower, strict=True))
        for upper, lower in zip(ink[0::2], ink[1::2], strict=True)
    )
    return "\n".join(lines) + "\n"


def _symbol(text: str, module_pixels: int = 10) -> qrcode.QRCode[PilImage]:
    symbol = qrcode.QRCode(
        image_factory=PilImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=module_pixels,
        border=_QUIET_ZONE,
    )
    symbol.add_data(_segment(text))
    symbol.make(fit=True)
    return symbol


def _segment(text: str) -> qrcode.util.QRData | str:
    """One alphanumeric segment when the text allows it: the library's own
    optimizer would cut the text into several segments, each with a header."""
    data = text.encode("utf-8")
    if data and qrcode.util.RE_ALPHA_NUM.fullmatch(data):
        return qrcode.util.QRData(data, mode=_MODE_ALPHANUMERIC)
    return text
