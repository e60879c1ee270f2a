"""The Python + OpenCV crop of word quads users migrate from, shared by the
crop and codec references: per quad, the crop rule's size, OpenCV's
getPerspectiveTransform and an INTER_LINEAR warpPerspective with a black
border."""
import cv2
import numpy as np


def crops_of(img, quads):
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
