"""Input pipelines on real CIFAR-10 images: the 45k/5k-style split, the paper's augmentation
(every training image is a 32x32 window of the 4-pixel zero-padded original, maybe mirrored),
ImageNet-style folders and the paper's test-time crops."""

import numpy as np
import pytest
from conftest import RunsCode

from keras_resnet.data import cifar10 as data
from keras_resnet.data import image_folders as folders
from keras_resnet.data import stream
from keras_resnet.evaluation import methods as evaluation


@pytest.fixture(scope="module")
def splits(shared):
    return data.cifar10(shared / "cifar-10-batches-py")


def test_split_is_the_last_tenth_of_training(shared, splits):
    images, labels = data.load_cifar10(shared / "cifar-10-batches-py", "train")
    assert len(splits.train[0]) == len(images) - round(len(images) * 0.1) and len(splits.test[0]) == 1017
    assert np.array_equal(np.concatenate([splits.train[0], splits.validation[0]]), images)
    assert np.array_equal(np.concatenate([splits.train[1], splits.validation[1]]), labels)
    everything = data.cifar10(shared / "cifar-10-batches-py", validation_fraction=0)
    assert len(everything.train[0]) == len(images) and len(everything.validation[0]) == 0


def test_training_batches_are_padded_crops_and_flips(splits):
    images, labels = splits.train
    n = 64
    ds = data.pipeline(images, labels, n, training=True, seed=3)
    order = [int(i) for (i,) in stream.shuffled_epochs(np.arange(len(images)), seed=3).take(n)]
    batch, batch_labels = next(iter(ds))
    batch = batch.numpy()
    assert batch.dtype == np.float32 and batch.shape == (n, 32, 32, 3)
    assert np.array_equal(batch_labels.numpy(), labels[order])
    flips = 0
    for augmented, index in zip(batch, order):
        padded = np.pad(images[index], ((4, 4), (4, 4), (0, 0))).astype(np.float32)
        windows = [(padded[top:top + 32, left:left + 32], flip)
                   for top in range(9) for left in range(9) for flip in (0, 1)]
        matches = [flip for w, flip in windows if np.array_equal(w[:, ::-1] if flip else w, augmented)]
        assert matches, f"training image {index} is not a padded crop of the original"
        flips += matches[0]
    assert 0 < flips < n  # horizontal flips happen, not always


def test_a_resumed_pipeline_repeats_the_uninterrupted_one(splits, image_folder):
    """Started at image `start` (a resumed run: iterations x batch), the training stream gives
    exactly the batches the uninterrupted stream gives from there, augmentation included,
    across an epoch boundary (100 images, batches of 32)."""
    images, labels = splits.train[0][:100], splits.train[1][:100]
    whole = [x.numpy() for x, _ in data.pipeline(images, labels, 32, training=True, seed=5).take(6)]
    resumed = [x.numpy() for x, _ in data.pipeline(images, labels, 32, training=True, seed=5, start=2 * 32).take(4)]
    for a, b in zip(whole[2:], resumed, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(whole[0], whole[1])
    paths, folder_labels, _ = folders.list_images(image_folder / "train")
    whole = [x.numpy() for x, _ in folders.pipeline(paths, folder_labels, 4, training=True).take(3)]
    resumed = [x.numpy() for x, _ in folders.pipeline(paths, folder_labels, 4, training=True, start=4).take(2)]
    for a, b in zip(whole[1:], resumed, strict=True):
        np.testing.assert_array_equal(a, b)


def test_each_epoch_is_a_new_permutation():
    first, second = np.asarray(
        [int(i) for (i,) in stream.shuffled_epochs(np.arange(100), seed=0).take(200)]).reshape(2, 100)
    assert sorted(first) == sorted(second) == list(range(100)) and not np.array_equal(first, second)


def test_evaluation_batches_are_the_images(splits):
    batch, labels = next(iter(data.pipeline(*splits.test, 50, training=False)))
    assert np.array_equal(batch.numpy(), splits.test[0][:50].astype(np.float32))


def test_folder_listing_and_pipelines(image_folder):
    paths, labels, names = folders.list_images(image_folder / "train")
    assert names == ["cat", "ship"] and list(labels) == [0, 0, 0, 1, 1, 1] and len(paths) == 6
    x, y = next(iter(folders.pipeline(paths, labels, 4, training=True)))
    assert x.shape == (4, 224, 224, 3) and float(x.numpy().min()) >= 0 and float(x.numpy().max()) <= 255
    x, y = next(iter(folders.pipeline(paths, labels, 6, training=False)))
    assert x.shape == (6, 224, 224, 3) and list(y.numpy()) == list(labels)
    assert folders.mean_image(paths).shape == (224, 224, 3)


def test_scale_augmentation_range():
    import tensorflow as tf

    image = tf.zeros((300, 400, 3))
    sides = {int(min(folders.resize_shorter(image, s).shape[:2])) for s in (256, 480)}
    assert sides == {256, 480}


def test_colour_augmentation_is_one_shift_along_the_imagenet_eigenvectors():
    import tensorflow as tf

    image = tf.fill((8, 8, 3), 100.0)
    shifts = np.stack([(folders.colour_augment(image, tf.constant([0, i])) - image).numpy() for i in range(400)])
    assert np.allclose(shifts, shifts[:, :1, :1, :], atol=1e-4)  # the same RGB shift on every pixel
    along = shifts[:, 0, 0, :] @ np.asarray(folders.PCA_EIGVEC)  # coordinates on the eigenvectors
    expected = 255 * folders.PCA_STD * np.asarray(folders.PCA_EIGVAL)
    assert np.allclose(along.std(axis=0), expected, rtol=0.2)


@pytest.mark.slow
def test_ten_crops_and_fully_convolutional_testing(image_folder):
    import keras

    import keras_resnet as kr

    paths, _, _ = folders.list_images(image_folder / "val")
    image = folders.decode(paths[0])
    crops = evaluation.ten_crops(image).numpy()
    assert crops.shape == (10, 224, 224, 3)
    assert np.allclose(crops[4], folders.eval_transform(image).numpy())  # the centre crop
    assert np.array_equal(crops[5:], crops[:5, :, ::-1])  # and the mirrors
    keras.utils.set_random_seed(0)
    mean = folders.mean_image(paths)
    model = kr.ResNet18(classes=2, include_preprocessing=kr.PixelMean(mean.shape, mean))
    fcn = evaluation.fully_convolutional(model)
    x = folders.eval_transform(image)[None]
    assert np.allclose(fcn(x).numpy(), model(x).numpy(), atol=1e-5)
    scores = evaluation.predict_image(model, image, "multiscale", fcn=fcn)
    assert scores.shape == (2,) and scores.sum() == pytest.approx(1, abs=1e-5)
    result = evaluation.evaluate_folder(model, image_folder / "val", "ten-crop")
    assert result["images"] == 6 and 0 <= result["top1_error"] <= 1 and result["top5_error"] == 0


def test_fully_convolutional_testing_of_a_trained_model(cifar_test):
    """`train` bakes its per-pixel mean in as a stock Normalization, which holds one size: the
    fully-convolutional clone resizes it (PixelMean), giving the same scores at the training
    size and scores at the paper's other scales."""
    import tensorflow as tf

    import keras_resnet as kr
    from keras_resnet.models.preprocessing import pixel_mean

    images = cifar_test[0][:8].astype("float32")
    model = kr.CifarResNet(1, include_preprocessing=pixel_mean(images.mean(axis=0)), input_shape=(32, 32, 3))
    fcn = evaluation.fully_convolutional(model)
    assert type(fcn.get_layer("pixel_mean")) is kr.PixelMean
    np.testing.assert_allclose(fcn(images).numpy(), model(images).numpy(), atol=1e-5)
    assert fcn(tf.image.resize(images, (48, 40))).shape == (8, 10)


@pytest.mark.parametrize("fault", ["hostile pickle", "truncated", "wrong shape", "labels out of range"])
def test_damaged_or_hostile_batch_files_are_refused(shared, tmp_path, fault):
    """The official format is a pickle: a batch that asks for a function is refused without
    running it; a damaged one names itself. The real test batch, with the fault injected."""
    import pickle
    import shutil

    directory = tmp_path / "cifar"
    shutil.copytree(shared / "cifar-10-batches-py", directory)
    real = (directory / "test_batch").read_bytes()
    batch = pickle.loads(real, encoding="bytes")
    marker = tmp_path / "code-ran"
    if fault == "hostile pickle":
        (directory / "test_batch").write_bytes(pickle.dumps({**batch, b"extra": RunsCode(marker)}, protocol=2))
    elif fault == "truncated":
        (directory / "test_batch").write_bytes(real[: len(real) // 2])
    elif fault == "wrong shape":
        (directory / "test_batch").write_bytes(pickle.dumps({**batch, b"data": batch[b"data"][:, :1024]}))
    else:
        (directory / "test_batch").write_bytes(pickle.dumps({**batch, b"labels": [11] * len(batch[b"labels"])}))
    with pytest.raises(ValueError, match=r"`data_dir` file '.*test_batch' is not a CIFAR-10 python batch"):
        data.load_cifar10(directory, "test")
    assert not marker.exists()
    assert len(data.load_cifar10(directory, "train")[0]) == 5085  # the intact batches still load
