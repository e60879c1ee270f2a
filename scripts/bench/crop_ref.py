"""The Python + OpenCV crop loop users migrate from.

usage: python3 crop_ref.py page.png quads.json repeats -> median ms
"""
import json
import statistics
import sys
import time

import cv2
import numpy as np

img = cv2.imread(sys.argv[1], cv2.IMREAD_COLOR)
quads = [np.array(q, dtype=np.float32) for q in json.load(open(sys.argv[2]))]
reps = int(sys.argv[3])


def crop_all():
    out = []
    for q in quads:
        tl, tr, br, bl = q
        w = max(int(np.linalg.norm(br - bl)), int(np.linalg.norm(tr - tl)))
        h = max(int(np.linalg.norm(tr - br)), int(np.linalg.norm(tl - bl)))
        dst = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
        m = cv2.getPerspectiveTransform(q, dst)
        out.append(cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_CONSTANT, borderValue=0))
    return out


cv2.setNumThreads(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
crop_all()
ts = []
for _ in range(reps):
    t = time.perf_counter()
    crop_all()
    ts.append(time.perf_counter() - t)
print("%.4f" % (statistics.median(ts) * 1000))
