"""Switching from keras.applications is one word in the import lines: keras.io's usage examples
for keras.applications (https://keras.io/api/applications/, "Usage examples for image
classification models"; the page's source is templates/api/applications/index.md in
keras-team/keras-io) run with `keras.applications` changed to `keras_resnet` in their import
lines, and give what they give with keras.applications.

The examples are the page's, for ResNets, with these differences, each the same on both sides:

- The page's networks become ResNets, from each of the three modules: "Classify ImageNet classes
  with ResNet50" is as written (keras.applications.resnet50); "Extract features with VGG16"
  uses ResNet50 (resnet); "... from an arbitrary intermediate layer with VGG19" ResNet50V2
  (resnet_v2) and its layer 'conv4_block6_out' for VGG19's 'block4_pool'; "Fine-tune InceptionV3
  on a new set of classes" ResNet50 (resnet), training its last stage: "the first 249 layers"
  (InceptionV3's top 2 inception blocks) become the first 143 (everything before conv5); "Build
  InceptionV3 over a custom input tensor" ResNet50V2 (resnet_v2): the cheapest net of each module.
- Keras 3: the page imports `tensorflow.keras` (written for tf.keras), here `keras`; its
  `SGD(lr=0.0001, ...)` is `SGD(learning_rate=0.0001, ...)` (Keras 3 has no `lr`).
- No network (tests never download): `weights='imagenet'` would fetch keras.applications' files
  from storage.googleapis.com (ours: the same files, through our registry). Both sides get one
  local file instead, in the layout of keras.applications' published files (Keras 2 HDF5,
  `references.write_keras2_weights`), holding a keras.applications net with random weights and
  BN statistics: a file path is what both `weights=` accept. So the test shows that the same
  weights give the same outputs, not ImageNet accuracy; that `weights='imagenet'` asks for
  keras.applications' own files (URL and hash) is `test_imagenet_weights_are_keras_applications_files`.
  Both downloaders raise if called.
- 'elephant.jpg' is a real photo, a CIFAR-10 test cat from ../shared (JPEG, 300x400, the
  `image_folder` fixture). keras.applications' decode_predictions reads its class index from the
  shared copy of the file it downloads (the same bytes). `keras.utils.load_img` needs Pillow,
  which the environment does not install: for both sides, `image.load_img` decodes the file with
  TensorFlow and resizes it to `target_size` nearest-neighbour (load_img's default).
- The fine-tuning example's `model.fit(...)` (placeholders on the page) trains on four 32x32
  CIFAR-10 images with made-up one-hot labels, batches of 2. Each example runs after
  `keras.backend.clear_session()` and `keras.utils.set_random_seed(0)`, so that both sides name
  their layers alike and draw the same initial weights for the new head.

TensorFlow runs every example (channels last, keras' default; its CPU convolutions take no other);
torch and JAX run the headline one, ResNet50's classification, and the module checks, keeping
their runs to seconds (`-m backends`).
"""

import inspect
import re
from pathlib import Path

import keras
import numpy as np
import pytest
from keras.src.utils import file_utils as keras_file_utils
from references import assert_same_outputs, random_keras_applications, shapes_only, write_keras2_weights

from keras_resnet import resnet, resnet50, resnet_v2
from keras_resnet.pretrained import download

CLASSIFY = """
from keras.applications.resnet50 import ResNet50
from keras.preprocessing import image
from keras.applications.resnet50 import preprocess_input, decode_predictions
import numpy as np

model = ResNet50(weights='imagenet')

img_path = 'elephant.jpg'
img = image.load_img(img_path, target_size=(224, 224))
x = image.img_to_array(img)
x = np.expand_dims(x, axis=0)
x = preprocess_input(x)

preds = model.predict(x)
# decode the results into a list of tuples (class, description, probability)
# (one such list for each sample in the batch)
print('Predicted:', decode_predictions(preds, top=3)[0])
"""

FEATURES = """
from keras.applications.resnet import ResNet50
from keras.preprocessing import image
from keras.applications.resnet import preprocess_input
import numpy as np

model = ResNet50(weights='imagenet', include_top=False)

img_path = 'elephant.jpg'
img = image.load_img(img_path, target_size=(224, 224))
x = image.img_to_array(img)
x = np.expand_dims(x, axis=0)
x = preprocess_input(x)

features = model.predict(x)
"""

INTERMEDIATE = """
from keras.applications.resnet_v2 import ResNet50V2
from keras.preprocessing import image
from keras.applications.resnet_v2 import preprocess_input
from keras.models import Model
import numpy as np

base_model = ResNet50V2(weights='imagenet')
model = Model(inputs=base_model.input, outputs=base_model.get_layer('conv4_block6_out').output)

img_path = 'elephant.jpg'
img = image.load_img(img_path, target_size=(224, 224))
x = image.img_to_array(img)
x = np.expand_dims(x, axis=0)
x = preprocess_input(x)

conv4_block6_out_features = model.predict(x)
"""

FINE_TUNE = """
from keras.applications.resnet import ResNet50
from keras.preprocessing import image
from keras.models import Model
from keras.layers import Dense, GlobalAveragePooling2D

# create the base pre-trained model
base_model = ResNet50(weights='imagenet', include_top=False)

# add a global spatial average pooling layer
x = base_model.output
x = GlobalAveragePooling2D()(x)
# let's add a fully-connected layer
x = Dense(1024, activation='relu')(x)
# and a logistic layer -- let's say we have 200 classes
predictions = Dense(200, activation='softmax')(x)

# this is the model we will train
model = Model(inputs=base_model.input, outputs=predictions)

# first: train only the top layers (which were randomly initialized)
# i.e. freeze all convolutional ResNet50 layers
for layer in base_model.layers:
    layer.trainable = False

# compile the model (should be done *after* setting layers to non-trainable)
model.compile(optimizer='rmsprop', loss='categorical_crossentropy')

# train the model on the new data for a few epochs
model.fit(...)

# at this point, the top layers are well trained and we can start fine-tuning
# convolutional layers from ResNet50. We will freeze the bottom N layers
# and train the remaining top layers.

# let's visualize layer names and layer indices to see how many layers
# we should freeze:
for i, layer in enumerate(base_model.layers):
   print(i, layer.name)

# we chose to train the last stage (conv5), i.e. we will freeze
# the first 143 layers and unfreeze the rest:
for layer in model.layers[:143]:
   layer.trainable = False
for layer in model.layers[143:]:
   layer.trainable = True

# we need to recompile the model for these modifications to take effect
# we use SGD with a low learning rate
from keras.optimizers import SGD
model.compile(optimizer=SGD(learning_rate=0.0001, momentum=0.9), loss='categorical_crossentropy')

# we train our model again (this time fine-tuning the last stage
# alongside the top Dense layers
model.fit(...)
"""

CUSTOM_INPUT = """
from keras.applications.resnet_v2 import ResNet50V2
from keras.layers import Input

# this could also be the output a different Keras model or layer
input_tensor = Input(shape=(224, 224, 3))

model = ResNet50V2(input_tensor=input_tensor, weights='imagenet', include_top=True)
"""

# example: (the network and whether with its classifier, for its weights file), what to compare
EXAMPLES = {
    "classify": (CLASSIFY, "ResNet50", True, ("preds",)),
    "features": (FEATURES, "ResNet50", False, ("features",)),
    "intermediate": (INTERMEDIATE, "ResNet50V2", True, ("conv4_block6_out_features",)),
    "fine_tune": (FINE_TUNE, "ResNet50", False, ()),
    "custom_input": (CUSTOM_INPUT, "ResNet50V2", True, ()),
}
HEADLINE = "classify"  # the one torch and JAX run
SLOW = ("features", "fine_tune", "custom_input")  # over ~10 s each (two trainings in fine_tune)
FIT = "model.fit(x_train, y_train, batch_size=2, verbose=0)"
MODULES = {"resnet50": resnet50, "resnet": resnet, "resnet_v2": resnet_v2}


class WouldDownload(Exception):
    pass


@pytest.mark.backends
@pytest.mark.parametrize("module", MODULES)
def test_each_module_has_keras_applications_names(module):
    """The public names of keras.applications' module, each taking its arguments with its
    defaults (ours may take more after them: `decode_predictions(..., dataset=)`); ResNet50 of
    `resnet50` is `resnet`'s, as there."""
    theirs, ours = getattr(keras.applications, module), MODULES[module]
    names = [name for name in dir(theirs) if not name.startswith("_")]
    assert sorted(ours.__all__) == names
    for name in names:
        expected, actual = (list(inspect.signature(getattr(m, name)).parameters.values()) for m in (theirs, ours))
        assert [(p.name, p.default) for p in actual[:len(expected)]] == [(p.name, p.default) for p in expected], name
        assert all(p.default is not p.empty for p in actual[len(expected):]), name  # ours' extras are optional
    assert resnet50.ResNet50 is resnet.ResNet50 and resnet50.preprocess_input is resnet.preprocess_input


@pytest.mark.backends
@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_preprocess_input_is_the_modules_own(module, data_format, image_data_format, keras_decode_predictions):
    """`preprocess_input` gives keras.applications' values of the same module, "caffe" for
    resnet50 and resnet, "tf" ([-1, 1]) for resnet_v2, on numpy float and integer images, one
    or a batch, and on backend tensors, in the global data format; `decode_predictions` its
    lists."""
    image_data_format(data_format)
    theirs, ours = getattr(keras.applications, module), MODULES[module]
    rng = np.random.default_rng(0)
    batch = rng.uniform(0, 255, (2, 3, 8, 8) if data_format == "channels_first" else (2, 8, 8, 3))
    for x in (batch.astype("float32"), batch.astype("int32"), batch[0]):
        expected = theirs.preprocess_input(x.copy())  # keras' works in place on float arrays
        np.testing.assert_allclose(ours.preprocess_input(x), expected, rtol=1e-6, atol=1e-5)
        if x.dtype == "float32":  # keras' fails on an integer tensor (TensorFlow: int32 - float32)
            tensor = keras.ops.convert_to_tensor(x)
            np.testing.assert_allclose(keras.ops.convert_to_numpy(ours.preprocess_input(tensor)), expected,
                                       rtol=1e-6, atol=1e-5)
    low, high = (-1, 1) if module == "resnet_v2" else (-123.68, 255 - 103.939)  # "tf"; "caffe": minus the mean
    assert low <= ours.preprocess_input(batch).min() < ours.preprocess_input(batch).max() <= high
    preds = rng.dirichlet(np.ones(1000), 2).astype("float32")
    assert [[tuple(e[:2]) for e in image] for image in theirs.decode_predictions(preds, top=3)] == [
        [e[:2] for e in image] for image in ours.decode_predictions(preds, top=3)]


@pytest.mark.parametrize(("module", "builder"), [(m, n) for m in MODULES for n in MODULES[m].__all__ if n[0] == "R"])
def test_imagenet_weights_are_keras_applications_files(module, builder, monkeypatch):
    """Called with its defaults, each builder asks for keras.applications' own file (its URL
    and the hash keras checks it by), as keras.applications' builder does; with
    include_top=False for ResNet50, the headless file. Nothing is downloaded (both downloaders
    raise) and nothing is allocated (`references.shapes_only`)."""
    def keras_get_file(fname, origin, file_hash=None, **kwargs):
        raise WouldDownload(origin, file_hash)

    def our_fetch(spec, **kwargs):
        raise WouldDownload(spec.url, spec.hash)

    monkeypatch.setattr(keras_file_utils, "get_file", keras_get_file)
    monkeypatch.setattr(download, "fetch", our_fetch)
    for kwargs in [{}, {"include_top": False}] if builder == "ResNet50" else [{}]:
        with pytest.raises(WouldDownload) as theirs:
            shapes_only(getattr(getattr(keras.applications, module), builder), **kwargs)
        with pytest.raises(WouldDownload) as ours:
            shapes_only(getattr(MODULES[module], builder), **kwargs)
        assert ours.value.args == theirs.value.args
        assert ours.value.args[0].endswith("_notop.h5" if kwargs else "_kernels.h5")


def switch(code: str) -> str:
    """The one change a user makes: `keras.applications` to `keras_resnet`, in the import lines."""
    lines = [re.sub(r"\bkeras\.applications\b", "keras_resnet", line) if line.startswith(("from ", "import "))
             else line for line in code.splitlines()]
    switched = "\n".join(lines)
    assert "keras.applications" not in switched and switched != code
    return switched


def load_img(path, target_size=None, **kwargs):
    """keras.utils.load_img without Pillow: the file decoded with TensorFlow, resized as its
    default (nearest), RGB uint8."""
    import tensorflow as tf

    img = tf.io.decode_image(Path(path).read_bytes(), channels=3, expand_animations=False)
    return np.asarray(tf.image.resize(img, target_size, method="nearest") if target_size else img)


@pytest.fixture
def offline(monkeypatch, keras_decode_predictions, image_folder):
    """Both libraries offline: their downloaders raise, keras' class index comes from ../shared,
    and `image.load_img` reads without Pillow. Gives the photo standing in for 'elephant.jpg'."""
    def would_download(*args, **kwargs):
        raise WouldDownload(f"a download: {args} {kwargs}")

    monkeypatch.setattr(download, "fetch", would_download)
    monkeypatch.setattr(keras_file_utils, "get_file", would_download)
    monkeypatch.setattr(keras.preprocessing.image, "load_img", load_img)
    return sorted((image_folder / "val" / "cat").glob("*.jpg"))[0]


def run_example(code: str, weights: Path, photo: Path, capsys, x_train=None, y_train=None) -> tuple[dict, str]:
    """The example as a user runs it, with the substitutions of the module docstring: its
    variables and what it printed."""
    code = code.replace("weights='imagenet'", f"weights={str(weights)!r}")
    code = code.replace("'elephant.jpg'", repr(str(photo))).replace("model.fit(...)", FIT)
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    namespace = {"x_train": x_train, "y_train": y_train}
    capsys.readouterr()
    exec(compile(code, "<keras.io example>", "exec"), namespace)
    return namespace, capsys.readouterr().out


@pytest.mark.parametrize("example", [
    pytest.param(name, marks=pytest.mark.backends if name == HEADLINE else pytest.mark.slow if name in SLOW else ())
    for name in EXAMPLES])
def test_keras_io_examples_give_what_keras_applications_gives(example, offline, tmp_path, capsys, cifar_test,
                                                              image_data_format):
    image_data_format("channels_last")  # keras' default, which the custom input tensor's shape is written for
    code, net, include_top, compared = EXAMPLES[example]
    weights = tmp_path / f"{net}_{'top' if include_top else 'notop'}.h5"
    write_keras2_weights(random_keras_applications(net, include_top, seed=0), weights)
    x_train = cifar_test[0][:4].astype("float32")
    y_train = np.eye(200, dtype="float32")[[3, 8, 8, 0]]
    theirs, printed_theirs = run_example(code, weights, offline, capsys, x_train, y_train)
    ours, printed_ours = run_example(switch(code), weights, offline, capsys, x_train, y_train)

    for name in compared:
        assert_same_outputs(ours[name], theirs[name])
    if example == "classify":
        decoded, expected = ours["decode_predictions"](ours["preds"], top=3), theirs["decode_predictions"](
            theirs["preds"], top=3)
        assert [d[:2] for d in decoded[0]] == [tuple(e[:2]) for e in expected[0]]
        np.testing.assert_allclose([d[2] for d in decoded[0]], [e[2] for e in expected[0]], rtol=1e-4)
        lines = printed_ours.splitlines()[-1], printed_theirs.splitlines()[-1]  # after predict's progress bar
        assert all(line.startswith("Predicted: [('n") for line in lines), lines
        assert re.findall(r"'(n\d{8})'", lines[0]) == re.findall(r"'(n\d{8})'", lines[1]) == [d[0] for d in decoded[0]]
    if example == "fine_tune":
        assert printed_ours == printed_theirs  # "0 input_layer", "1 conv1_pad", ... "174 conv5_block3_out"
        trainable = [[layer.trainable for layer in side["model"].layers] for side in (ours, theirs)]
        assert trainable[0] == trainable[1] and trainable[0].index(True) == 143
        assert_same_outputs(ours["model"].predict(x_train, verbose=0), theirs["model"].predict(x_train, verbose=0))
    if example == "custom_input":
        assert all(len(side["model"].inputs) == 1 and side["model"].inputs[0] is side["input_tensor"]
                   for side in (ours, theirs))
        x = keras.applications.resnet_v2.preprocess_input(np.asarray(load_img(offline, (224, 224)), "float32")[None])
        assert_same_outputs(ours["model"].predict(x, verbose=0), theirs["model"].predict(x, verbose=0))
