"""Stand-ins for the packages pytorch-grad-cam imports but the GradCAM + SemanticSegmentationTarget
path does not use, installed only where the real package is missing (Debian's python3-torch comes
without them here). Each stand-in's attributes can be read (pytorch-grad-cam reads some at import,
e.g. cv2.COLORMAP_JET as a default argument) but raise when called, naming the stub.

On our path pytorch-grad-cam calls two things from them:
- ttach (test-time augmentation): BaseCAM.__init__ always builds
  tta.Compose([tta.HorizontalFlip(), tta.Multiply(factors=[...])]); it is used only with
  aug_smooth=True, which the peer never passes. The stand-ins construct and do nothing.
- cv2.resize(img, (width, height)) in scale_cam_image: the map's upsampling. Without OpenCV the
  stand-in is torch's bilinear interpolate with align_corners=False, the same half-pixel rule as
  OpenCV's INTER_LINEAR (source x = (x + 0.5) * in / out - 0.5, clamped at the edges). Which one
  ran is reported (describe()).
"""

import importlib
import sys
import types

STUBBED = []


class _Unavailable:
    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        return _Unavailable(self._name + "." + attr)

    def __call__(self, *args, **kwargs):
        raise RuntimeError("%s is a stand-in (bench/peers/pgc_stubs.py): the package is not"
                           " installed and the torch peer does not use it" % self._name)

    def __or__(self, other):  # type hints like `cv2.X | None` at import
        return self


def _module(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    m.__getattr__ = lambda attr, _n=name: _Unavailable(_n + "." + attr)
    m.__path__ = []  # a package, so `from name.sub import X` finds the submodule below
    return m


def _missing(name):
    try:
        importlib.import_module(name)
        return False
    except ImportError:
        return True


class _Inert:
    """ttach's transforms as BaseCAM.__init__ builds them; never applied by the peer."""

    def __init__(self, *args, **kwargs):
        self.args = args

    def __iter__(self):
        return iter(())


def _cv2_resize(img, dsize, *args, **kwargs):
    import numpy as np
    import torch
    import torch.nn.functional as F

    if args or kwargs:
        raise RuntimeError("cv2.resize stand-in: only resize(img, (width, height)) is provided")
    width, height = dsize
    t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))[None, None]
    out = F.interpolate(t, size=(height, width), mode="bilinear", align_corners=False)
    return out[0, 0].numpy()


def install():
    """Puts stand-ins into sys.modules for each missing package; returns their names."""
    specs = {
        "ttach": lambda: {"ttach": _module("ttach", Compose=_Inert, HorizontalFlip=_Inert,
                                           Multiply=_Inert)},
        "cv2": lambda: {"cv2": _module("cv2", resize=_cv2_resize)},
        "matplotlib": lambda: {"matplotlib": _module("matplotlib"),
                               "matplotlib.pyplot": _module("matplotlib.pyplot"),
                               "matplotlib.lines": _module("matplotlib.lines")},
        "scipy": lambda: {"scipy": _module("scipy"), "scipy.ndimage": _module("scipy.ndimage"),
                          "scipy.sparse": _module("scipy.sparse"),
                          "scipy.sparse.linalg": _module("scipy.sparse.linalg")},
        "sklearn": lambda: {"sklearn": _module("sklearn"),
                            "sklearn.decomposition": _module("sklearn.decomposition")},
        "torchvision": lambda: {"torchvision": _module("torchvision"),
                                "torchvision.transforms": _module("torchvision.transforms")},
        "tqdm": lambda: {"tqdm": _module("tqdm")},
    }
    for name, make in specs.items():
        if _missing(name):
            sys.modules.update(make())
            STUBBED.append(name)
    return list(STUBBED)


def describe():
    """One line: which packages are stand-ins and what the map's resize was."""
    if not STUBBED:
        return "no stand-ins (all of pytorch-grad-cam's imports are installed)"
    resize = ("cv2.resize = torch bilinear, align_corners=False (stand-in)" if "cv2" in STUBBED
              else "cv2.resize = OpenCV's")
    return "stand-ins for %s; %s" % (", ".join(STUBBED), resize)
