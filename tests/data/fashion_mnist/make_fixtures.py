#!/usr/bin/python3
"""Writes the Fashion-MNIST (IDX) fixtures of tests/test_tasks_media.cpp (run from this directory).

Real format: images = magic 0x00000803, count, rows, cols (big-endian uint32), then the pixels;
labels = magic 0x00000801, count, then the labels. The installed files are gzip'ed (.gz).
"train" here is plain IDX (3 images), "t10k" gzip'ed (5 images), both 28x28; pixel (i, p) = (7 i + p) % 256.
"""
import gzip
import os
import struct


def images(n, rows=28, cols=28, magic=0x803, count=None, extra=b"", cut=None):
    body = bytes((7 * i + p) % 256 for i in range(n) for p in range(rows * cols))
    data = struct.pack(">IIII", magic, n if count is None else count, rows, cols) + body + extra
    return data if cut is None else data[:cut]


def labels(values, magic=0x801, count=None):
    return struct.pack(">II", magic, len(values) if count is None else count) + bytes(values)


def write(name, data):
    with open(name, "wb") as f:
        f.write(data)


def write_gz(name, data):
    # mtime 0 and no file name: the same bytes on every run.
    with open(name, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
        f.write(data)


write("train-images-idx3-ubyte", images(3))
write("train-labels-idx1-ubyte", labels([0, 1, 2]))
write_gz("t10k-images-idx3-ubyte.gz", images(5))
write_gz("t10k-labels-idx1-ubyte.gz", labels([9, 0, 0, 3, 9]))

os.makedirs("malformed", exist_ok=True)
m = "malformed/"
write(m + "labels3", labels([0, 1, 2]))
write(m + "images_wrong_magic", images(3, magic=0x801))
write(m + "labels_wrong_magic", labels([0, 1, 2], magic=0x803))
write(m + "images_truncated", images(3, cut=16 + 2 * 784 + 392))
write_gz(m + "images_truncated.gz", images(3, cut=16 + 2 * 784 + 392))
full = open("t10k-images-idx3-ubyte.gz", "rb").read()
write(m + "images_cut.gz", full[: len(full) // 2])
write(m + "labels2", labels([0, 1]))
write(m + "labels_range", labels([0, 10, 2]))
write(m + "empty", b"")
write(m + "images_huge_count", images(3, count=0x7FFFFFFF))
write_gz(m + "images_huge_count.gz", images(3, count=0x7FFFFFFF))
write(m + "images_trailing", images(3, extra=b"\x01\x02\x03\x04\x05"))
write(m + "images_zero_rows", images(3, rows=0))
write(m + "images_header_cut", images(3, cut=10))
