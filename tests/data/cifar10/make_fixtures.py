#!/usr/bin/python3
"""Writes the CIFAR-10 fixtures of tests/test_tasks_media.cpp (run from this directory).

Real format (cifar-10-batches-bin): records of 1 label byte + 1024 red + 1024 green + 1024 blue bytes
(32x32, row-major). expected_gray_test_batch.txt holds LRA's grayscale tokens (gray + 1) of
test_batch.bin, computed here independently with numpy float32 the way tf.image.rgb_to_grayscale does
(uint8 -> float32 * (1/255), weights 0.2989, 0.5870, 0.1140, then * 255.5 and truncated to uint8).
"""
import gzip
import os
import random

import numpy as np

rng = random.Random(10)
PIX = 1024


def record(label, special=()):
    rgb = [[rng.randrange(256) for _ in range(PIX)] for _ in range(3)]
    for i, (r, g, b) in enumerate(special):
        rgb[0][i], rgb[1][i], rgb[2][i] = r, g, b
    return bytes([label]) + bytes(rgb[0]) + bytes(rgb[1]) + bytes(rgb[2])


def gray_tokens(rec):
    planes = np.frombuffer(rec[1:], dtype=np.uint8).reshape(3, PIX).astype(np.float32)
    f = planes * np.float32(1.0 / 255.0)
    w = np.array([0.2989, 0.5870, 0.1140], dtype=np.float32)
    y = (f[0] * w[0] + f[1] * w[1]).astype(np.float32) + (f[2] * w[2]).astype(np.float32)
    return (np.trunc((y * np.float32(255.5)).astype(np.float32)).astype(np.int64) + 1).tolist()


def write(name, data):
    with open(name, "wb") as f:
        f.write(data)


# Pixels whose TF grayscale differs from the rounded weighted sum: (69, 78, 10) -> 67 (round: 68).
special = [(255, 255, 255), (0, 0, 0), (69, 78, 10), (0, 172, 0), (128, 155, 248)]
test = [record(3, special), record(9)]
write("test_batch.bin", b"".join(test))
with open("expected_gray_test_batch.txt", "w") as f:
    for rec in test:
        f.write(" ".join(map(str, gray_tokens(rec))) + "\n")
write("data_batch_1.bin", record(0) + record(1) + record(2))
for i, label in zip(range(2, 6), (4, 5, 6, 7)):
    write(f"data_batch_{i}.bin", record(label))

# A gzip'ed batch (the reader takes one as well) and one cut in the middle of its deflate stream.
with open("data_batch_1.bin", "rb") as f:
    batch1 = f.read()
with open("data_batch_1.bin.gz", "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
    f.write(batch1)

os.makedirs("malformed", exist_ok=True)
with open("data_batch_1.bin.gz", "rb") as f:
    write("malformed/cut.bin.gz", f.read()[:-2000])
write("malformed/truncated.bin", record(1) + record(2) + record(3)[:100])
write("malformed/label.bin", record(1) + record(10))
write("malformed/empty.bin", b"")
