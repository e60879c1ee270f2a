"""The main-colours job in Python + OpenCV + NumPy with multiprocessing.Pool
over all cores: per image, imread, the fastest NumPy count, a JSON file of
the top 6 colours and a palette PNG.

usage: python3 batch_ref.py indir outdir -> seconds for the whole directory
"""
import glob
import json
import multiprocessing
import os
import sys
import time

import cv2
import numpy as np


def one(path):
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGRA)
    elif img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    flat = img.reshape(-1, 4)
    m = flat[:, 3] != 0
    b, g, r = flat[m, 0].astype(np.uint32), flat[m, 1].astype(np.uint32), flat[m, 2].astype(np.uint32)
    u, c = np.unique((r << 16) | (g << 8) | b, return_counts=True)
    top = np.lexsort((u, -c))[:6]
    stem = os.path.splitext(os.path.basename(path))[0]
    out = sys.argv[2]
    with open(os.path.join(out, stem + ".colors.json"), "w") as f:
        json.dump([{"r": int(u[i] >> 16), "g": int((u[i] >> 8) & 255), "b": int(u[i] & 255),
                    "count": int(c[i])} for i in top], f)
    pal = np.empty((64 * len(top), 512, 3), np.uint8)
    for k, i in enumerate(top):
        pal[k * 64:(k + 1) * 64] = (int(u[i] & 255), int((u[i] >> 8) & 255), int(u[i] >> 16))
    cv2.imwrite(os.path.join(out, stem + ".palette.png"), pal)


if __name__ == "__main__":
    cv2.setNumThreads(1)
    paths = sorted(glob.glob(os.path.join(sys.argv[1], "*.png")))
    os.makedirs(sys.argv[2], exist_ok=True)
    t = time.perf_counter()
    with multiprocessing.Pool(os.cpu_count()) as pool:
        pool.map(one, paths, chunksize=4)
    print("%.4f" % (time.perf_counter() - t))
