"""An independent CIFAR-10 trainer in plain PyTorch: the paper's recipe written from the paper,
sharing no code with keras_resnet, so that `keras-resnet train` can be checked against it.

- data: the official python batches, read here; per-pixel mean of the training images
  subtracted, then 0-255 scaled to unit range; 4 zero pixels of padding, a random 32x32 crop
  and a horizontal flip with probability 1/2, drawn per image;
- net: the paper's 6n+2-layer CIFAR ResNet (3x3 conv 16, stages of 16/32/64 filters, option A
  shortcuts: stride-2 subsampling and zero channels, as the shipped akamaster checkpoints),
  He-normal convolutions, BN after every convolution, global average pool, 10-way FC;
- optimiser: `torch.optim.SGD(momentum=0.9, weight_decay=1e-4)`, lr 0.1 x batch/128 divided by
  10 at 1/2 and 3/4 of the iterations; each epoch is a fresh permutation, the last partial
  batch dropped.

Resumable: `OUTPUT/checkpoint.pt` is replaced atomically after every epoch; `OUTPUT/log.csv`
has a row per epoch (loss, training error, test loss, test error, lr, seconds).

    python benchmarks/reference/torch_cifar.py --data-dir ../shared/data/cifar-10-batches-py \
        --epochs 40 --seed 0 --output runs/reference/torch_seed0
"""

from __future__ import annotations

import argparse
import csv
import os
import pickle
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FIELDS = ("epoch", "loss", "error", "val_loss", "val_error", "lr", "seconds")


def read_split(directory: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    images, labels = [], []
    for name in names:
        with open(directory / name, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        images.append(np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[b"labels"], np.int64))
    return np.concatenate(images), np.concatenate(labels)


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int, residual: bool):
        super().__init__()
        self.residual = residual
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride, self.pad = stride, planes - in_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if not self.residual:  # the plain net of Figure 6
            return F.relu(out)
        shortcut = x[:, :, :: self.stride, :: self.stride]
        if self.pad:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return F.relu(out + shortcut)


class CifarResNet(nn.Module):
    def __init__(self, n: int, classes: int = 10, residual: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, in_planes = [], 16
        for stage, planes in enumerate((16, 32, 64)):
            for i in range(n):
                blocks.append(BasicBlock(in_planes, planes, 2 if stage and i == 0 else 1, residual))
                in_planes = planes
        self.blocks = nn.Sequential(*blocks)
        self.linear = nn.Linear(64, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # He et al. (2015b); the classifier keeps torch's default
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.linear(x.mean(dim=(2, 3)))


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Pad 4, random 32x32 crop, random flip, per image."""
    n = images.shape[0]
    padded = F.pad(images, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=generator)
    dx = torch.randint(0, 9, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(32))[:, None, :, None].expand(n, 3, 32, 40)
    cropped = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(32))[:, None, None, :].expand(n, 3, 32, 32)
    cropped = cropped.gather(3, cols)
    flip = torch.rand(n, generator=generator) < 0.5
    cropped[flip] = cropped[flip].flip(3)
    return cropped


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, mean: torch.Tensor) -> tuple[float, float]:
    model.eval()
    loss, wrong = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(images), 500):
            x = (images[start:start + 500] - mean) / 255.0
            logits = model(x)
            y = labels[start:start + 500]
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            wrong += (logits.argmax(1) != y).sum().item()
    return loss / len(images), wrong / len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--n", type=int, default=3, help="blocks per stage: 6n+2 layers (3: ResNet-20)")
    parser.add_argument("--plain", action="store_true", help="no shortcuts: Figure 6's plain net")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)

    data = Path(args.data_dir)
    train_x, train_y = (torch.from_numpy(a) for a in read_split(data, True))
    test_x, test_y = (torch.from_numpy(a) for a in read_split(data, False))
    train_x, test_x = train_x.float(), test_x.float()
    mean = train_x.mean(0, keepdim=True)
    steps = len(train_x) // args.batch_size
    total = steps * args.epochs
    base_lr = 0.1 * args.batch_size / 128
    milestones = (total // 2, total * 3 // 4)

    torch.manual_seed(args.seed)
    model = CifarResNet(args.n, residual=not args.plain)
    optimizer = torch.optim.SGD(model.parameters(), lr=base_lr, momentum=0.9, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(args.seed)
    start_epoch = 0
    checkpoint = output / "checkpoint.pt"
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        start_epoch = state["epoch"]
    log = output / "log.csv"
    rows = []
    if start_epoch and log.exists():  # a kill between the log and the checkpoint leaves a row too many
        with open(log, newline="") as f:
            rows = [r for r in csv.reader(f)][1:start_epoch + 1]
    with open(log, "w", newline="") as f:
        csv.writer(f).writerows([FIELDS, *rows])

    for epoch in range(start_epoch, args.epochs):
        began = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        loss_sum, wrong = 0.0, 0
        for step in range(steps):
            iteration = epoch * steps + step
            lr = base_lr * 0.1 ** sum(iteration >= m for m in milestones)
            for group in optimizer.param_groups:
                group["lr"] = lr
            index = order[step * args.batch_size:(step + 1) * args.batch_size]
            x = (augment(train_x[index], generator) - mean) / 255.0
            y = train_y[index]
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(y)
            wrong += (logits.argmax(1) != y).sum().item()
        seen = steps * args.batch_size
        val_loss, val_error = evaluate(model, test_x, test_y, mean)
        row = (epoch, loss_sum / seen, wrong / seen, val_loss, val_error, lr, time.perf_counter() - began)
        with open(log, "a", newline="") as f:
            csv.writer(f).writerow(row)
        print(f"epoch {epoch + 1}/{args.epochs} loss {row[1]:.4f} error {row[2]:.4f} "
              f"test error {val_error:.4f} lr {lr:g} ({row[6]:.0f} s)", flush=True)
        partial = checkpoint.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "generator": generator.get_state(), "epoch": epoch + 1}, partial)
        os.replace(partial, checkpoint)


if __name__ == "__main__":
    main()
