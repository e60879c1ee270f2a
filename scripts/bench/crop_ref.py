"""The Python + OpenCV crop loop users migrate from.

usage: python3 crop_ref.py page.png quads.json repeats -> median ms
"""
import json
import statistics
import sys
import time

import cv2
import numpy as np

from cvcrop import crops_of

img = cv2.imread(sys.argv[1], cv2.IMREAD_COLOR)
quads = [np.array(q, dtype=np.float32) for q in json.load(open(sys.argv[2]))]
reps = int(sys.argv[3])


def crop_all():
    return crops_of(img, quads)


cv2.setNumThreads(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
t0 = time.perf_counter()
while True:  # a tenth of a second of warm-up, as bench.lua's median
    crop_all()
    if time.perf_counter() - t0 >= 0.1:
        break
ts = []
for _ in range(reps):
    t = time.perf_counter()
    crop_all()
    ts.append(time.perf_counter() - t)
print("%.4f" % (statistics.median(ts) * 1000))
