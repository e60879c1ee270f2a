"""The OpenCV codec work users migrate from, timed as they run it.

usage: python3 codec_ref.py DATA_DIR SCRATCH_DISK SCRATCH_TMPFS REPEATS -> JSON of median ms
  decode:  cv2.imread of the page, warped page and sticker PNGs
  jpeg:    cv2.imread of page.jpg in full and with IMREAD_REDUCED_COLOR_4
  save:    the cv2.imwrite loop over the warped page's crops, to tmpfs
           (and the bytes it wrote)
  pipeline: cv2.imread + crop every quad + cv2.imwrite each, to disk
"""
import json
import os
import shutil
import statistics
import sys
import time

import cv2
import numpy as np

from cvcrop import crops_of

data, disk, tmpfs, reps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
cv2.setNumThreads(2)


def median_ms(fn, n=reps):
    t0 = time.perf_counter()
    while True:  # a tenth of a second of warm-up, as bench.lua's median
        fn()
        if time.perf_counter() - t0 >= 0.1:
            break
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000


# Every timed run writes into a new, empty folder (deleting the last run's
# files is not part of saving them); all are removed after the timing.
runs = []


def fresh(d):
    d = "%s.%d" % (d, len(runs))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    runs.append(d)
    return d


def cleanup():
    for d in runs:
        shutil.rmtree(d, ignore_errors=True)
    del runs[:]


res = {"decode": {}}
for name in ("page.png", "page_warped.png", "logo_rgba.png"):
    path = os.path.join(data, name)
    res["decode"][name] = median_ms(lambda: cv2.imread(path, cv2.IMREAD_UNCHANGED))

jpg = os.path.join(data, "page.jpg")
res["jpeg"] = {"full": median_ms(lambda: cv2.imread(jpg, cv2.IMREAD_COLOR)),
               "reduced4": median_ms(lambda: cv2.imread(jpg, cv2.IMREAD_REDUCED_COLOR_4))}

page_path = os.path.join(data, "page_warped.png")
quads = [np.array(q, dtype=np.float32) for q in json.load(open(os.path.join(data, "page_warped.quads.json")))]
crops = crops_of(cv2.imread(page_path, cv2.IMREAD_COLOR), quads)


def save_loop(d):
    d = fresh(d)
    for i, c in enumerate(crops):
        cv2.imwrite(os.path.join(d, "%04d.png" % (i + 1)), c)


save_dir = os.path.join(tmpfs, "cv2_crops")
res["save"] = median_ms(lambda: save_loop(save_dir), max(3, reps // 3))
last = runs[-1]
res["save_bytes"] = sum(os.path.getsize(os.path.join(last, f)) for f in os.listdir(last))
cleanup()


def pipeline():
    d = fresh(os.path.join(disk, "cv2_pipeline"))
    img = cv2.imread(page_path, cv2.IMREAD_COLOR)
    for i, c in enumerate(crops_of(img, quads)):
        cv2.imwrite(os.path.join(d, "%04d.png" % (i + 1)), c)


res["pipeline"] = median_ms(pipeline, max(3, reps // 3))
cleanup()
res["crops"] = len(crops)
print(json.dumps(res))
