"""The cv2 / NumPy calls pixjit's kernels replace, timed as Python runs them.

usage: python3 kernels_ref.py PAGE.png REPEATS -> JSON
  {"kernels": {name: {size: {threads: median microseconds per call}}},
   "chain": {threads: median ms}}
Sizes are a 100x32 crop (called in a loop), a 1000x320 line and the page.
The chain is the word boxes of page.boxes.json: slice -> resize to height
32 -> gray, one box after another.
"""
import json
import statistics
import sys
import time

import cv2
import numpy as np

page_path, boxes_path, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])

page = cv2.cvtColor(cv2.imread(page_path), cv2.COLOR_BGR2RGB)
H, W = page.shape[:2]
rgb = {
    "100x32": cv2.resize(page, (100, 32), interpolation=cv2.INTER_AREA),
    "1000x320": cv2.resize(page, (1000, 320), interpolation=cv2.INTER_AREA),
    "page": page,
}
gray = {k: cv2.cvtColor(v, cv2.COLOR_RGB2GRAY) for k, v in rgb.items()}
LOOPS = {"100x32": 1000, "1000x320": 20, "page": 1}
ones3, ones5 = np.ones((3, 3), np.uint8), np.ones((5, 5), np.uint8)


def size_of(im, f):
    h, w = im.shape[:2]
    return (max(1, int(w * f)), max(1, int(h * f)))


# name -> (input kind, call); the same list as scripts/bench.lua's.
KERNELS = {
    "to_gray": ("rgb", lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)),
    "gray_to_rgb": ("gray", lambda im: cv2.cvtColor(im, cv2.COLOR_GRAY2RGB)),
    "rgb_to_rgba": ("rgb", lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2RGBA)),
    "swap_rb": ("rgb", lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2BGR)),
    "pad": ("rgb", lambda im: cv2.copyMakeBorder(im, 8, 8, 8, 8, cv2.BORDER_CONSTANT, value=0)),
    "clone": ("rgb", lambda im: im.copy()),
    "fill": ("rgb", lambda im: im.fill(7)),
    "resize linear /3": ("rgb", lambda im: cv2.resize(im, size_of(im, 1 / 3))),
    "resize linear x2.5": ("gray", lambda im: cv2.resize(im, size_of(im, 2.5))),
    "resize area /4": ("rgb", lambda im: cv2.resize(im, size_of(im, 1 / 4), interpolation=cv2.INTER_AREA)),
    "resize nearest /2": ("rgb", lambda im: cv2.resize(im, size_of(im, 1 / 2), interpolation=cv2.INTER_NEAREST)),
    "threshold": ("gray", lambda im: cv2.threshold(im, 127, 255, cv2.THRESH_BINARY)),
    "otsu": ("gray", lambda im: cv2.threshold(im, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)),
    "adaptive mean 11": ("gray", lambda im: cv2.adaptiveThreshold(im, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 11, 2)),
    "adaptive gaussian 11": ("gray", lambda im: cv2.adaptiveThreshold(im, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, 11, 2)),
    "blur 5": ("gray", lambda im: cv2.blur(im, (5, 5))),
    "gaussian_blur 5": ("gray", lambda im: cv2.GaussianBlur(im, (5, 5), 0)),
    "dilate 3": ("gray", lambda im: cv2.dilate(im, ones3)),
    "erode 5": ("gray", lambda im: cv2.erode(im, ones5)),
    "rot90": ("gray", lambda im: cv2.rotate(im, cv2.ROTATE_90_COUNTERCLOCKWISE)),
    "flip horizontal": ("rgb", lambda im: cv2.flip(im, 1)),
    "flip vertical": ("rgb", lambda im: cv2.flip(im, 0)),
    "invert": ("rgb", lambda im: cv2.bitwise_not(im)),
}


def median_us(fn, loops):
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(loops):
            fn()
        ts.append((time.perf_counter() - t) / loops)
    return statistics.median(ts) * 1e6


boxes = []
for q in json.load(open(boxes_path)):
    xs, ys = [p[0] for p in q], [p[1] for p in q]
    x0, y0 = int(min(xs)), int(min(ys))
    x1, y1 = min(W, int(max(xs))), min(H, int(max(ys)))
    if x1 > x0 and y1 > y0:
        boxes.append((x0, y0, x1 - x0, y1 - y0))


def chain():
    out = []
    for x, y, w, h in boxes:
        crop = page[y:y + h, x:x + w]
        small = cv2.resize(crop, (max(1, round(w * 32 / h)), 32))
        out.append(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
    return out


result = {"kernels": {}, "chain": {}, "boxes": len(boxes)}
for threads in (1, 2):
    cv2.setNumThreads(threads)
    for name, (kind, call) in KERNELS.items():
        imgs = rgb if kind == "rgb" else gray
        for size, im in imgs.items():
            result["kernels"].setdefault(name, {}).setdefault(size, {})[threads] = \
                median_us(lambda: call(im), LOOPS[size])
    result["chain"][threads] = median_us(chain, 1) / 1000
print(json.dumps(result))
