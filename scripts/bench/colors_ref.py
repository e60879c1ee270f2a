"""The NumPy main-colour reference (REFERENCE.md section 1), three variants.

usage: python3 colors_ref.py image.png n repeats -> JSON with median ms
"""
import json
import resource
import statistics
import sys
import time

import cv2
import numpy as np

path, n, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def naive(img):
    vis = img[img[:, :, 3] != 0][:, :3].astype(np.float64)
    packed = vis[:, 0] * 65536 + vis[:, 1] * 256 + vis[:, 2]
    u, c = np.unique(packed, return_counts=True)
    top = np.argsort(-c)[:n]
    return u[top].astype(np.uint32), c[top]


def fast(img):
    vis = img[img[:, :, 3] != 0]
    packed = (vis[:, 0].astype(np.uint32) << 16) | (vis[:, 1].astype(np.uint32) << 8) | vis[:, 2]
    u, c = np.unique(packed, return_counts=True)
    top = np.argsort(-c)[:n]
    return u[top], c[top]


def faster(img):
    flat = img.reshape(-1, 4)
    m = flat[:, 3] != 0
    b, g, r = flat[m, 0].astype(np.uint32), flat[m, 1].astype(np.uint32), flat[m, 2].astype(np.uint32)
    u, c = np.unique((r << 16) | (g << 8) | b, return_counts=True)
    top = np.argsort(-c)[:n]
    return u[top], c[top]


def palette_naive(colors):
    return np.vstack([np.ones((64, 512, 3), np.uint8) * np.array(
        [v & 255, (v >> 8) & 255, v >> 16], np.uint8) for v in colors])


def palette_fast(colors):
    pal = np.empty((64 * len(colors), 512, 3), np.uint8)
    for i, v in enumerate(colors):
        pal[i * 64:(i + 1) * 64] = (v & 255, (v >> 8) & 255, v >> 16)
    return pal


def median_ms(fn):
    t0 = time.perf_counter()
    while True:  # a tenth of a second of warm-up, as bench.lua's median
        fn()
        if time.perf_counter() - t0 >= 0.1:
            break
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000


img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
out = {"count": {}, "full": {}}
for name, fn, pal in (("naive", naive, palette_naive), ("fast", fast, palette_fast),
                      ("faster", faster, palette_fast)):
    out["count"][name] = median_ms(lambda: fn(img))
    out["full"][name] = median_ms(lambda: pal(fn(cv2.imread(path, cv2.IMREAD_UNCHANGED))[0]))
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
