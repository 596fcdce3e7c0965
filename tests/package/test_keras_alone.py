"""Models the package builds or trains save to `.keras` files that load with Keras alone:
`safe_mode=True`, in a process where `import keras_resnet` fails, with the same outputs, in
both data formats under TensorFlow and channels_last under every Keras backend (`-m backends`).
The one exception,
`CentreCrop` (include_preprocessing on ImageNet nets), says why in its docstring."""

import json
import textwrap

import keras
import numpy as np
import pytest
from conftest import randomise_batchnorm, run_python
from references import assert_same_outputs, miniature

import keras_resnet as kr
from keras_resnet.training.run import TrainConfig, train

pytestmark = pytest.mark.backends

RNG = np.random.default_rng(0)


# the family's nets with one block a stage: each kind of layer they have, for a fraction of the time
BUILDS = {
    "cifar_resnet20_pretrained": lambda: kr.CifarResNet20(weights="cifar10"),  # torch mode, option A
    "cifar_caffe": lambda: kr.CifarResNet(1, include_preprocessing="caffe"),  # the channel flip
    "resnet_v2": lambda: miniature("resnet50v2", input_shape=None, include_top=False, pooling="avg"),
    "resnet_d": lambda: miniature("resnet50d", include_top=False, pooling="max"),
    "plainnet": lambda: miniature("plainnet18", include_top=False),
}

LOAD_ALONE = textwrap.dedent("""
    import json, sys
    sys.modules["keras_resnet"] = None  # `import keras_resnet` raises ImportError here
    import keras, numpy as np
    keras.config.set_image_data_format({data_format!r})
    outputs = {{}}
    for name, path in json.loads({files!r}).items():
        model = keras.models.load_model(path, safe_mode=True)
        outputs[name] = model.predict(np.load(path + ".x.npy"), verbose=0).tolist()
    print(json.dumps(outputs))
""")


def _size(model: keras.Model) -> tuple:
    shape = model.input_shape[1:]
    return tuple(d or 64 for d in shape)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.slow
def test_built_and_trained_models_load_with_keras_alone(data_format, image_data_format, shared, tmp_path):
    if data_format == "channels_first" and keras.backend.backend() != "tensorflow":
        # what loading alone reads (the config and weights) is the backend's in neither layout;
        # running each layout on torch and JAX is test_data_formats'
        pytest.skip("channels_first files are loaded alone under TensorFlow")
    image_data_format(data_format)
    files, expected = {}, {}
    models = {name: build() for name, build in BUILDS.items()}
    for name, model in models.items():
        randomise_batchnorm(model)
        path = str(tmp_path / f"{name}.keras")
        model.save(path)
        files[name] = path
    # one `train` run a backend: channels_first under TensorFlow (whose channels_last runs are
    # test_resume's and test_cli's), channels_last under torch and JAX
    if (data_format == "channels_first") == (keras.backend.backend() == "tensorflow"):
        models["trained"], _ = train(TrainConfig(
            model="cifar_resnet8", data_dir=str(shared / "cifar-10-batches-py"), output=str(tmp_path / "run"),
            epochs=1, steps_per_epoch=2, batch_size=16, plot=False))
        files["trained"] = str(tmp_path / "run" / "final.keras")
    for name, model in models.items():
        x = RNG.uniform(0, 255, (2, *_size(model))).astype("float32")
        np.save(files[name] + ".x.npy", x)
        expected[name] = model.predict(x, verbose=0)
        stock = [type(layer).__module__.startswith("keras.") for layer in model.layers]
        assert all(stock), (name, [layer.name for layer, ok in zip(model.layers, stock) if not ok])
    alone = json.loads(run_python(LOAD_ALONE.format(data_format=data_format, files=json.dumps(files)),
                                  KERAS_BACKEND=keras.backend.backend()).strip().splitlines()[-1])
    for name in models:
        try:  # up to round-off: the package runs BN on torch's own kernel (core.torch_kernels), Keras alone on its ops
            assert_same_outputs(np.asarray(alone[name]), expected[name])
        except AssertionError as e:
            raise AssertionError(name) from e


def test_the_crop_layer_is_the_stated_exception():
    """An ImageNet net with include_preprocessing has `CentreCrop` (keras_resnet's, for the
    reason its docstring gives); its other layers are stock."""
    model = kr.ResNet18(include_preprocessing="caffe", classes=3)
    custom = [layer.name for layer in model.layers if not type(layer).__module__.startswith("keras.")]
    assert custom == ["preprocessing_crop"]
