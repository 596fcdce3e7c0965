"""The PyTorch side of the benchmarks: the same networks as keras_resnet (read from the same
architecture table), written the way torchvision and akamaster's CIFAR ResNets write them
(torchvision itself does not import beside torch 2.13 here). Same v1 stride placement and
shortcut options as ours, so both sides compute the same multiply-adds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from harness import Case
from torch import nn

from keras_resnet.core.architectures import BLOCK_KINDS, Architecture


class Block(nn.Module):
    def __init__(self, in_channels: int, filters: int, kind: str, stride: int, shortcut: str):
        super().__init__()
        spec = BLOCK_KINDS[kind]
        convs, channels = [], in_channels
        for i, (kernel, width) in enumerate(zip(spec["kernels"], spec["widths"])):
            convs += [
                nn.Conv2d(channels, filters * width, kernel, stride if i == 0 else 1, kernel // 2, bias=False),
                nn.BatchNorm2d(filters * width),
            ]
            channels = filters * width
        self.body = nn.Sequential(*convs)
        self.out_channels, self.stride, self.pad = channels, stride, channels - in_channels
        reshapes = stride != 1 or in_channels != channels
        self.projection = None
        if shortcut == "C" or (shortcut == "B" and reshapes):
            self.projection = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels)
            )

    def forward(self, x):
        y = x
        for i in range(0, len(self.body), 2):
            y = self.body[i + 1](self.body[i](y))
            if i < len(self.body) - 2:
                y = F.relu(y)
        if self.projection is not None:
            x = self.projection(x)
        elif self.stride != 1 or self.pad:  # option A: subsample, zero-pad channels
            x = F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return F.relu(x + y)


class ResNet(nn.Module):
    def __init__(self, arch: Architecture, shortcut: str):
        super().__init__()
        if arch.stem == "imagenet":
            stem = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
            channels = 64
        else:
            channels = arch.filters[0]
            stem = [nn.Conv2d(3, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()]
        blocks = []
        for stage, (count, filters) in enumerate(zip(arch.blocks, arch.filters)):
            for index in range(count):
                blocks.append(Block(channels, filters, arch.kind, 2 if index == 0 and stage > 0 else 1, shortcut))
                channels = blocks[-1].out_channels
        self.features = nn.Sequential(*stem, *blocks)
        self.fc = nn.Linear(channels, arch.default_classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


def torch_cases(arch: Architecture, shortcut: str, batch: int, *, training: bool, calls: int = 1) -> list[Case]:
    """The network in PyTorch's default NCHW layout and in channels-last, its faster CPU one:
    a call is an `inference_mode` forward, or a training step (SGD, momentum 0.9), on a fixed
    batch of 0-255 images."""
    cases = []
    for layout, name in ((torch.contiguous_format, "torch"), (torch.channels_last, "torch, channels-last")):
        model = ResNet(arch, shortcut).to(memory_format=layout).train(training)
        x = (torch.rand(batch, 3, arch.default_size, arch.default_size) * 255).contiguous(memory_format=layout)
        y = torch.randint(0, arch.default_classes, (batch,))
        optimizer = torch.optim.SGD(model.parameters(), 0.1, momentum=0.9)

        def step(model=model, x=x, y=y, optimizer=optimizer):
            if not training:
                with torch.inference_mode():
                    return model(x)
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()

        cases.append(Case(name, step, batch, calls))
    return cases
