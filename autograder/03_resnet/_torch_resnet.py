"""The course's PyTorch ResNet18 (CIFAR variant, torchvision's block order): the one definition used by
the notebooks' locked cells (tests/test_assignments.py checks they are the same code), the hidden
checks (through ``_reference.py``) and the benchmarks (bench/resnet.py). Pure torch, no side effects."""

import torch
import torch.nn.functional as F
from torch import nn


class TorchBasicBlock(nn.Module):
    def __init__(self, in_planes, out_planes, do_downsample=False):
        super().__init__()
        stride = 2 if do_downsample else 1
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_planes)
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.downsample = None
        if do_downsample:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, out_planes, 1, stride=2, bias=False), nn.BatchNorm2d(out_planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class TorchResNet18(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(2, 2)
        self.layer1 = nn.Sequential(TorchBasicBlock(64, 64), TorchBasicBlock(64, 64))
        self.layer2 = nn.Sequential(TorchBasicBlock(64, 128, True), TorchBasicBlock(128, 128))
        self.layer3 = nn.Sequential(TorchBasicBlock(128, 256, True), TorchBasicBlock(256, 256))
        self.layer4 = nn.Sequential(TorchBasicBlock(256, 512, True), TorchBasicBlock(512, 512))
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
