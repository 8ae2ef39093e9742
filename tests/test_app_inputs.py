"""Validation of uploads and typed texts: every problem is an InputError with a message for the page."""

import struct
import zlib

import numpy as np
import pytest

pytest.importorskip("gradio")
from PIL import Image  # noqa: E402

from unireps.app.engine import InputError  # noqa: E402
from unireps.app.inputs import load_image, parse_caption, parse_texts  # noqa: E402


def png_bomb(path, width=100_000, height=100_000):
    """A small PNG whose header declares width × height pixels (a decompression bomb for naive decoders)."""
    import io

    img = Image.new("RGB", (8, 8), (200, 10, 10))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    raw = bytearray(buf.getvalue())
    # IHDR data starts at byte 16: width, height (big endian); CRC after the 13 data bytes
    raw[16:24] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(raw[12:29])) & 0xFFFFFFFF
    raw[29:33] = struct.pack(">I", crc)
    path.write_bytes(bytes(raw))
    return path


def test_reads_a_png(tmp_path):
    p = tmp_path / "ok.png"
    Image.fromarray(np.full((20, 30, 3), 7, np.uint8)).save(p)
    img = load_image(str(p))
    assert img.shape == (20, 30, 3) and img.dtype == np.uint8


def test_rgba_and_grey_become_rgb(tmp_path):
    p = tmp_path / "rgba.png"
    Image.new("RGBA", (9, 9), (1, 2, 3, 4)).save(p)
    assert load_image(str(p)).shape == (9, 9, 3)
    q = tmp_path / "grey.png"
    Image.new("L", (9, 9), 5).save(q)
    assert load_image(str(q)).shape == (9, 9, 3)


def test_large_images_are_reduced(tmp_path):
    p = tmp_path / "big.png"
    Image.new("RGB", (3000, 1500), (0, 0, 0)).save(p)
    assert max(load_image(str(p)).shape[:2]) <= 1024


def test_not_an_image(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("this is text, not an image")
    with pytest.raises(InputError, match="not an image"):
        load_image(str(p))


def test_truncated_image(tmp_path):
    p = tmp_path / "cut.png"
    Image.fromarray((np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)).save(p)
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(InputError, match="damaged or truncated"):
        load_image(str(p))


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    p = png_bomb(tmp_path / "bomb.png")
    with pytest.raises(InputError, match="too large"):
        load_image(str(p), max_pixels=40_000_000)


def test_pixel_limit(tmp_path):
    p = tmp_path / "m.png"
    Image.new("RGB", (200, 200)).save(p)
    with pytest.raises(InputError, match="too large"):
        load_image(str(p), max_pixels=10_000)


def test_missing_file_and_required(tmp_path):
    with pytest.raises(InputError, match="could not be found"):
        load_image(str(tmp_path / "gone.png"))
    assert load_image(None) is None
    with pytest.raises(InputError, match="upload an image"):
        load_image(None, required=True)


def test_texts():
    assert parse_texts("a\n\n  b  c \n") == ["a", "b c"]
    assert parse_texts(None) == []
    with pytest.raises(InputError, match="at least one text"):
        parse_texts("  \n ", required=True)
    with pytest.raises(InputError, match="too many texts: 17; at most 16"):
        parse_texts("\n".join(f"t{i}" for i in range(17)))
    with pytest.raises(InputError, match="longer than 300"):
        parse_texts("x" * 301)
    assert parse_caption("  a red  circle ") == "a red circle"
