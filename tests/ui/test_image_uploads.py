"""ui.uploads.read_image: PNG and JPEG, grey or colour, resized; every bad file a clear message."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from ui import uploads as U
from ui.i18n import LANGUAGES


def encoded(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def noise(width: int, height: int, mode: str = "RGB") -> Image.Image:
    channels = 3 if mode == "RGB" else 1
    g = np.random.default_rng(0)
    array = g.integers(0, 256, (height, width, channels), dtype=np.uint8)
    return Image.fromarray(array if channels == 3 else array[:, :, 0], mode)


def png_announcing(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + body + chunk(b"IEND", b"")


def refused(data: bytes, key: str, name: str = "picture.png") -> U.UploadError:
    with pytest.raises(U.UploadError) as caught:
        U.read_image(data, name)
    assert caught.value.key == key
    for lang in LANGUAGES:
        assert U.message(caught.value, lang)  # every message fills in, in both languages
    return caught.value


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "LA", "P", "1", "I;16", "CMYK"])
def test_png_and_jpeg_in_every_common_mode_read_as_grey_or_rgb(mode: str) -> None:
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    image = U.read_image(encoded(Image.new(mode, (40, 30)), fmt), "x")
    assert image.pixels.dtype == np.float32 and image.pixels.shape[:2] == (30, 40)
    assert image.pixels.shape[2] == (1 if mode in ("L", "LA", "1", "I;16") else 3)
    assert image.pixels.min() >= 0.0 and image.pixels.max() <= 1.0
    assert image.format == fmt and not image.resized


def test_transparency_is_laid_over_white_and_values_keep_their_level() -> None:
    clear = U.read_image(encoded(Image.new("RGBA", (8, 8), (0, 0, 0, 0))), "x")
    assert clear.pixels.min() == 1.0
    grey = U.read_image(encoded(Image.new("L", (8, 8), 51)), "x")
    assert grey.pixels[0, 0, 0] == pytest.approx(0.2)


def test_a_large_photo_is_shrunk_to_the_safe_side_with_its_sizes_kept() -> None:
    image = U.read_image(encoded(noise(1200, 600), "JPEG"), "photo.jpg")
    assert image.original == (1200, 600)
    assert image.size == (U.IMAGE_MAX_SIDE, U.IMAGE_MAX_SIDE // 2)
    assert image.pixels.shape == (U.IMAGE_MAX_SIDE // 2, U.IMAGE_MAX_SIDE, 3) and image.resized


def test_bad_files_each_get_their_own_message() -> None:
    refused(b"", "image_empty")
    refused(b"x1,x2,label\n1,2,a\n", "image_not_image", "data.csv")
    refused(b"%PDF-1.4 not a picture", "image_not_image", "doc.pdf")
    assert refused(encoded(noise(20, 20), "GIF"), "image_format").values == {"kind": "GIF"}
    assert refused(encoded(noise(20, 20), "BMP"), "image_format").values == {"kind": "BMP"}
    whole = encoded(noise(200, 200))
    refused(whole[: len(whole) // 2], "image_corrupt")
    jpeg = encoded(noise(200, 200), "JPEG")
    refused(jpeg[: len(jpeg) // 2], "image_corrupt")
    frames = [noise(20, 20)] + [Image.new("RGB", (20, 20), (i * 60, 0, 0)) for i in range(1, 3)]
    animated = encoded(frames[0], save_all=True, append_images=frames[1:])
    assert refused(animated, "image_animated").values == {"frames": 3}


def test_huge_files_and_pixel_bombs_are_refused_before_decoding() -> None:
    big = refused(b"\x89PNG" + b"\0" * (U.IMAGE_MAX_BYTES + 1), "image_too_big")
    assert big.values["limit_mb"] == U.IMAGE_MAX_BYTES / 1e6
    over = refused(png_announcing(6000, 5000), "image_too_many_pixels")
    assert over.values == {"pixels": 30_000_000, "limit": U.IMAGE_MAX_PIXELS}
    bomb = refused(png_announcing(20_000, 20_000), "image_too_many_pixels")  # PIL's own refusal
    assert bomb.values["pixels"] == 400_000_000
