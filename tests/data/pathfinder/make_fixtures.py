#!/usr/bin/env python3
"""Writes the Pathfinder reader fixtures (LRA layout, standard library only). Run from this directory.

Each case is a split directory as LRA ships it: metadata/<n>.npy (text lines
"imgs/<n> sample_<i>.png <i> <label> 1.0 14 4 2 0.5 1 1") and imgs/<n>/sample_<i>.png.
good/ holds three valid 32x32 8-bit grayscale images whose pixel (y, x) is
(32 y + x + 7 i + 50 n) % 256; every other case breaks one thing.
"""
import os
import shutil
import struct
import zlib


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width, height, depth, colour, rows):
    raw = b"".join(b"\x00" + row for row in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def gray8(n, i, width=32, height=32):
    return png(width, height, 8, 0, [bytes((32 * y + x + 7 * i + 50 * n) % 256 for x in range(width))
                                     for y in range(height)])


def line(n, i, label):
    return f"imgs/{n} sample_{i}.png {i} {label} 1.0 14 4 2 0.5 1 1\n"


def case(name, metadata, images):
    shutil.rmtree(name, ignore_errors=True)
    for n, text in metadata.items():
        os.makedirs(f"{name}/metadata", exist_ok=True)
        with open(f"{name}/metadata/{n}.npy", "w") as f:
            f.write(text)
    for path, data in images.items():
        os.makedirs(os.path.dirname(f"{name}/{path}"), exist_ok=True)
        with open(f"{name}/{path}", "wb") as f:
            f.write(data)


case("good", {0: line(0, 0, 1) + line(0, 1, 0), 1: line(1, 0, 1)},
     {"imgs/0/sample_0.png": gray8(0, 0), "imgs/0/sample_1.png": gray8(0, 1), "imgs/1/sample_0.png": gray8(1, 0)})
case("wrong_size", {0: line(0, 0, 1)}, {"imgs/0/sample_0.png": gray8(0, 0, width=31)})
case("wrong_depth", {0: line(0, 0, 1)},
     {"imgs/0/sample_0.png": png(32, 32, 16, 0, [bytes(64) for _ in range(32)])})
case("rgb", {0: line(0, 0, 1)}, {"imgs/0/sample_0.png": png(32, 32, 8, 2, [bytes(96) for _ in range(32)])})
case("truncated", {0: line(0, 0, 1)}, {"imgs/0/sample_0.png": gray8(0, 0)[:60]})
case("missing_image", {0: line(0, 0, 1) + line(0, 1, 0)}, {"imgs/0/sample_0.png": gray8(0, 0)})
case("missing_entry", {0: line(0, 0, 1) + "imgs/0 sample_1.png 1\n"},
     {"imgs/0/sample_0.png": gray8(0, 0), "imgs/0/sample_1.png": gray8(0, 1)})
case("bad_label", {0: line(0, 0, 1) + line(0, 1, 2)},
     {"imgs/0/sample_0.png": gray8(0, 0), "imgs/0/sample_1.png": gray8(0, 1)})
case("empty_metadata", {0: ""}, {"imgs/0/sample_0.png": gray8(0, 0)})
case("no_metadata", {}, {"imgs/0/sample_0.png": gray8(0, 0)})
