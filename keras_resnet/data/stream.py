"""The training stream shared by every dataset: endless, reshuffled every epoch and randomly
augmented as pure functions of (seed, position), so a resumed run, the replicas of a
`tf.distribute` strategy and the workers of a cluster see the batches one uninterrupted run sees."""

from __future__ import annotations


def shuffled_epochs(*arrays, seed: int = 0, start: int = 0):
    """An endless `tf.data.Dataset` of tuples (a[i], b[i], ...) of the equally long `arrays`,
    in a new permutation per epoch, a pure function of (seed, epoch), from element `start` of
    that stream on (a resumed run starts where the killed one stopped). Stateless on purpose:
    `shuffle(reshuffle_each_iteration=True)` depends on how many iterators were made, which
    differs under `tf.distribute` strategies and across a resume, so replicas, workers and
    resumed runs would not see the batches a single uninterrupted run sees."""
    import tensorflow as tf

    tensors = [tf.constant(a) for a in arrays]
    size, seed = len(arrays[0]), tf.constant(seed, tf.int64)
    epoch, offset = divmod(start, size)
    indices = tf.data.Dataset.counter(start=epoch).map(
        lambda epoch: tf.random.experimental.stateless_shuffle(tf.range(size, dtype=tf.int64), tf.stack([seed, epoch]))
    ).unbatch().skip(offset)
    return indices.map(lambda i: tuple(tf.gather(t, i) for t in tensors))


def element_seeds(seed: int, position, count: int):
    """`count` stateless-op seeds for the element at `position` of the training stream: random
    augmentation as a pure function of (seed, position), so a resumed run repeats it exactly."""
    import tensorflow as tf

    return tf.random.experimental.stateless_split(tf.stack([tf.constant(seed, tf.int64), position]), count)
