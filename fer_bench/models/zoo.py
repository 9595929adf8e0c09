"""Imports every family module so their @register calls run. Add new family modules here."""

from . import (
    applications,  # noqa: F401  keras.applications backbones + paper head
    classic,  # noqa: F401  LeNet5, AlexNet, ZFNet, VGGNet, GoogLeNet, ResNet18
    custom,  # noqa: F401  the BTFER authors' own CNNs
    fer_vgg,  # noqa: F401  compact VGG-style net of the strong recipe (fer-bench, not the paper)
    repvgg,  # noqa: F401  RepVGG (multi-branch, re-parameterisable)
    vggface,  # noqa: F401  VGGFace / VGGFace2 backbones (SENet50)
)
