"""Writes OpenCV's crops of quads, for tests/spec/warp_spec.lua.

usage: python3 cv2_crops.py image.png quads.json out.bin
For each quad (TL, TR, BR, BL) the crop rule of DESIGN.md and
cv2.getPerspectiveTransform + cv2.warpPerspective (INTER_LINEAR,
BORDER_CONSTANT 0); out.bin gets, per quad, int32 width and height and the
crop's bytes in RGB(A) or gray order (width and height 0 for a quad OpenCV
cannot crop, or whose homography it finds singular).
"""
import json
import struct
import sys

import cv2
import numpy as np

img = cv2.imread(sys.argv[1], cv2.IMREAD_UNCHANGED)
to_rgb = {3: cv2.COLOR_BGR2RGB, 4: cv2.COLOR_BGRA2RGBA}.get(img.shape[2] if img.ndim == 3 else 1)
quads = json.load(open(sys.argv[2]))
with open(sys.argv[3], "wb") as out:
    for q in quads:
        q = np.array(q, dtype=np.float32)
        tl, tr, br, bl = q
        w = max(int(np.sqrt(((br - bl) ** 2).sum())), int(np.sqrt(((tr - tl) ** 2).sum())))
        h = max(int(np.sqrt(((tr - br) ** 2).sum())), int(np.sqrt(((tl - bl) ** 2).sum())))
        if w < 1 or h < 1:
            out.write(struct.pack("<ii", 0, 0))
            continue
        dst = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
        m = cv2.getPerspectiveTransform(q, dst)
        if not m[:, :2].any() and not m[:2, 2].any():
            # OpenCV's answer for a singular system (a crop 1 pixel wide or
            # high maps two corners to one point): pixjit reports the quad
            # as degenerate instead of sampling one source pixel.
            out.write(struct.pack("<ii", 0, 0))
            continue
        crop = cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        out.write(struct.pack("<ii", w, h))
        out.write((cv2.cvtColor(crop, to_rgb) if to_rgb is not None else crop).tobytes())
