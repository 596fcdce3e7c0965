"""Input data: CIFAR-10 batches, ImageNet-style image folders, and the seeded stream both share."""
