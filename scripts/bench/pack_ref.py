"""The Python + OpenCV + NumPy recogniser-input pipeline users migrate from:
crop every quad, resize to height 32 keeping the aspect ratio (width capped
at 320), normalise (v / 255 - 0.5) / 0.5, pad into one N x 3 x 32 x W
float32 batch, W the widest resized crop (what pj.pack does by default).

usage: python3 pack_ref.py page.png quads.json repeats -> median ms
"""
import json
import statistics
import sys
import time

import cv2
import numpy as np

from cvcrop import crops_of

img = cv2.cvtColor(cv2.imread(sys.argv[1], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
quads = [np.array(q, dtype=np.float32) for q in json.load(open(sys.argv[2]))]
reps = int(sys.argv[3])
H, MAXW = 32, 320


def batch():
    rows = []
    for crop in crops_of(img, quads):
        h, w = crop.shape[:2]
        rw = min(MAXW, max(1, int(np.floor(w * H / h + 0.5))))
        r = cv2.resize(crop, (rw, H), interpolation=cv2.INTER_LINEAR)
        rows.append(((r.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1))
    widths = [r.shape[2] for r in rows]
    out = np.zeros((len(rows), 3, H, max(widths)), np.float32)
    for i, r in enumerate(rows):
        out[i, :, :, :widths[i]] = r
    return out, widths


cv2.setNumThreads(1)
t0 = time.perf_counter()
while True:  # a tenth of a second of warm-up, as bench.lua's median
    batch()
    if time.perf_counter() - t0 >= 0.1:
        break
ts = []
for _ in range(reps):
    t = time.perf_counter()
    batch()
    ts.append(time.perf_counter() - t)
print("%.4f" % (statistics.median(ts) * 1000))
