"""The model card's figures: which files docs/model-card.md embeds (`list`), and whether one
figure is well-formed SVG whose PNG rendering by Chromium shows a drawing (`check`).

The PNG is decoded here (zlib and the five PNG filters, 8-bit RGB or RGBA), so the check needs
nothing but Python: a page that failed to load, an image that could not be decoded, or an
empty drawing leaves a white (or nearly white) screenshot.
"""
import os
import re
import struct
import sys
import xml.etree.ElementTree as ET
import zlib

MIN_INK = 0.01  # share of non-white pixels a real figure has at least


def listed(card):
    base = os.path.dirname(card)
    text = open(card, encoding="utf-8").read()
    for link in re.findall(r"!\[[^\]]*\]\(([^)\s]+\.svg)\)", text):
        print(os.path.normpath(os.path.join(base, link)))


def pixels(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            if depth != 8 or color not in (2, 6):
                raise ValueError(f"unexpected PNG format: depth {depth}, color type {color}")
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
    if width is None:
        raise ValueError("no IHDR")
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev, at = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
        at += 1 + stride
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, channels, rows


def check(svg, png):
    if not os.path.isfile(svg) or os.path.getsize(svg) == 0:
        print(f"FAIL {svg}: missing or empty")
        return False
    try:
        root = ET.parse(svg).getroot()
    except ET.ParseError as e:
        print(f"FAIL {svg}: not well-formed SVG ({e})")
        return False
    if not root.tag.endswith("svg"):
        print(f"FAIL {svg}: the root element is {root.tag}, not svg")
        return False
    if not os.path.isfile(png):
        print(f"FAIL {svg}: chromium wrote no screenshot")
        return False
    try:
        width, height, channels, rows = pixels(png)
    except (ValueError, zlib.error) as e:
        print(f"FAIL {svg}: the screenshot is not a readable PNG ({e})")
        return False
    ink = sum(
        1
        for line in rows
        for i in range(0, len(line), channels)
        if min(line[i], line[i + 1], line[i + 2]) < 240
    )
    share = ink / (width * height)
    if share < MIN_INK:
        print(f"FAIL {svg}: rendered {width}x{height}, {share:.2%} drawn: empty or broken")
        return False
    print(f"ok   {svg}: rendered {width}x{height}, {share:.1%} drawn")
    return True


if __name__ == "__main__":
    if sys.argv[1] == "list":
        listed(sys.argv[2])
    else:
        sys.exit(0 if check(sys.argv[2], sys.argv[3]) else 1)
