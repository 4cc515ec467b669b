"""to_torch and load_torch_state_dict: the same function, the same training step, the
same weights back."""

from __future__ import annotations

import numpy as np
import pytest
from export_helpers import (
    EXAMPLE_CLASSES,
    LAYERS,
    WIDTH,
    batch,
    copy_as,
    example_input,
    example_models,
    layer_case,
    layer_input,
    shaped_example_models,
    shared_model,
)

import minigrad as mg
from minigrad.export import load_torch_state_dict, to_torch

torch = pytest.importorskip("torch")

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}


def torch_out(module, x):
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", LAYERS)
def test_each_builtin_layer_computes_as_in_minigrad_in_both_modes(name, dtype):
    model, _ = layer_case(name, dtype)
    module = to_torch(model)
    x = layer_input(name, dtype)
    for training in ([False] if name == "Dropout" else [True, False]):
        model.train(training)
        module.train(training)
        with model.mode(training):
            expected = model(x)
        out = torch_out(module, x)
        assert out.dtype == expected.dtype == dtype
        np.testing.assert_allclose(out, expected, rtol=0, atol=TOLERANCE[dtype])
    # and the training-mode forward updated BatchNorm's running statistics alike
    mirror = LAYERS[name][0](dtype)
    load_torch_state_dict(mirror, module.state_dict())
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(mirror.state_dict()[key], value, rtol=0,
                                   atol=TOLERANCE[dtype], err_msg=key)


@pytest.mark.parametrize("name", [name for name in LAYERS
                                  if list(layer_case(name, np.float64)[0].parameters())])
def test_each_layer_with_parameters_trains_one_step_as_in_minigrad(name):
    model, _ = layer_case(name, np.float64)
    module = to_torch(model)
    x = layer_input(name, np.float64)
    model.train()
    module.train()
    weights = np.random.default_rng(2).standard_normal(model(x).shape)  # L = Σ y ⊙ R
    optimizer = mg.SGD(model.parameters(), lr=0.1)
    optimizer.zero_grad()
    model.backward(weights)
    optimizer.step()
    torch_optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    torch_optimizer.zero_grad()
    (module(torch.from_numpy(x)) * torch.from_numpy(weights)).sum().backward()
    torch_optimizer.step()
    fresh, _ = layer_case(name, np.float64)
    load_torch_state_dict(fresh, module.state_dict())
    before = layer_case(name, np.float64)[0].state_dict()
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(fresh.state_dict()[key], value, rtol=0, atol=1e-12,
                                   err_msg=key)
        if key.endswith("weight"):  # the step moved it: the equality is not vacuous
            assert not np.allclose(value, before[key]), key


@pytest.mark.parametrize("name", LAYERS)
def test_each_layer_state_dict_round_trips(name):
    source, _ = layer_case(name, np.float64)
    target = copy_state_free(name)
    load_torch_state_dict(target, to_torch(source).state_dict())
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[key], value, err_msg=key)


def copy_state_free(name):
    """Case ``name`` with other random weights than `layer_case`'s."""
    from export_helpers import randomized

    return randomized(LAYERS[name][0](np.float64), seed=7)


def test_dropout_trains_as_inverted_dropout_in_torch_too():
    module = to_torch(mg.Sequential(mg.Dropout(0.25)))
    out = module(torch.ones(400, 50, dtype=torch.float64)).numpy()
    assert set(np.unique(out)) == {0.0, 1 / 0.75}
    assert abs((out == 0).mean() - 0.25) < 0.02


def test_the_mode_is_copied_module_by_module():
    model = mg.Sequential(mg.Dense(WIDTH, 2, rng=0), mg.Dropout(0.5))
    model[1].eval()
    module = to_torch(model)
    assert module.training and not module[1].training


def training_without_dropout(model, module):
    """Both in training mode but for Dropout, whose random masks cannot agree."""
    model.train()
    module.train()
    for layer in model.modules():
        if isinstance(layer, mg.Dropout):
            layer.eval()
    for child in module.modules():
        if isinstance(child, torch.nn.Dropout):
            child.eval()


def sgd_step_both(model, module, x, y, loss_fn, torch_loss, lr=0.1):
    """One SGD step of each on the same batch; the losses must agree."""
    training_without_dropout(model, module)
    optimizer = mg.SGD(model.parameters(), lr=lr)
    loss = loss_fn(model(x), y)
    optimizer.zero_grad()
    model.backward(loss_fn.backward())
    optimizer.step()

    torch_optimizer = torch.optim.SGD(module.parameters(), lr=lr)
    torch_optimizer.zero_grad()
    torch_value = torch_loss(module(torch.from_numpy(x)), torch.from_numpy(y))
    torch_value.backward()
    torch_optimizer.step()
    rel = 1e-12 if torch_value.dtype == torch.float64 else 1e-5
    assert torch_value.item() == pytest.approx(loss, rel=rel)


def torch_cross_entropy(logits, y):
    """PyTorch's cross-entropy with minigrad's class axis last: positions flattened."""
    return torch.nn.functional.cross_entropy(logits.flatten(0, -2), y.flatten())


def step_both_on_the_example(name, model, module, x):
    """One SGD step: cross-entropy on class indices for a classifier, else the MSE."""
    rng = np.random.default_rng(1)
    if name in EXAMPLE_CLASSES:
        y = rng.integers(0, EXAMPLE_CLASSES[name], mg.predict(model, x).shape[:-1])
        sgd_step_both(model, module, x, y, mg.CrossEntropyLoss(), torch_cross_entropy)
    else:
        y = rng.standard_normal((len(x), 1))
        sgd_step_both(model, module, x, y, mg.MSELoss(), torch.nn.functional.mse_loss)


@pytest.mark.parametrize("name", list(example_models()))
def test_example_models_compute_and_train_one_step_as_in_minigrad(name):
    model, width = example_models()[name]
    module = to_torch(model)
    x = batch(width, np.float64, rows=16)
    np.testing.assert_allclose(torch_out(module.eval(), x), mg.predict(model, x), atol=1e-12)
    step_both_on_the_example(name, model, module, x)
    stepped = to_minigrad_layout(module, model)
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(stepped[key], value, rtol=0, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("name", list(shaped_example_models()))
def test_image_and_character_models_compute_and_train_one_step_as_in_minigrad(name):
    model, sample = shaped_example_models()[name]
    before = model.state_dict()
    module = to_torch(model)
    x = example_input(name, sample, rows=16)
    out = torch_out(module.eval(), x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, mg.predict(model, x), rtol=0, atol=1e-5)
    step_both_on_the_example(name, model, module, x)
    stepped, _ = shaped_example_models()[name]  # a fresh copy, to hold torch's weights
    load_torch_state_dict(stepped, module.state_dict())
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(stepped.state_dict()[key], value, rtol=0, atol=1e-5,
                                   err_msg=key)
        assert not np.array_equal(value, before[key]), key  # the step moved every weight


def to_minigrad_layout(module, model):
    """The torch module's weights as minigrad's state_dict would hold them (loaded into
    a copy of ``model``, which stays as it is)."""
    copy = copy_as(model, np.float64)
    load_torch_state_dict(copy, module.state_dict())
    return copy.state_dict()


def test_one_training_step_moves_the_weights_identically():
    # Guards the test above: the step must change the weights, or equality proves nothing.
    model, width = example_models()["blog net"]
    before = model.state_dict()
    module = to_torch(model)
    x = batch(width, np.float64, rows=6)
    y = batch(1, np.float64, rows=6, seed=1)
    sgd_step_both(model, module, x, y, mg.MSELoss(), torch.nn.functional.mse_loss)
    after = to_minigrad_layout(module, model)
    for key, value in model.state_dict().items():
        assert not np.allclose(value, before[key])
        np.testing.assert_allclose(after[key], value, rtol=0, atol=1e-12)


def test_a_shared_layer_is_one_shared_module_and_trains_as_one():
    model = shared_model()
    module = to_torch(model)
    assert module[0] is module[2]
    assert len(list(module.parameters())) == 1
    assert list(module.state_dict()) == ["0.weight", "2.weight"]  # PyTorch lists both uses
    x = batch(WIDTH, np.float64)
    y = batch(WIDTH, np.float64, seed=1)
    sgd_step_both(model, module, x, y, mg.MSELoss(), torch.nn.functional.mse_loss)
    np.testing.assert_allclose(module[0].weight.detach().numpy().T, model[0].weight.data,
                               atol=1e-12)


def test_a_graph_becomes_a_module_with_its_nodes_under_their_names():
    model, _ = example_models()["residual MLP"]
    module = to_torch(model)
    block = module[3]
    assert type(block).__name__ == "GraphModule"
    assert [name for name, _ in block.named_children()] == ["fc", "act", "out"]
    assert list(module.state_dict()) == list(model.state_dict())


def test_weights_are_copies_in_torch_layout_and_no_torch_rng_is_used():
    model = mg.Sequential(mg.Bias(), mg.Dense(WIDTH + 1, 3, dtype=np.float32, rng=0))
    state = torch.random.get_rng_state()
    module = to_torch(model)
    assert torch.equal(torch.random.get_rng_state(), state)
    weight = module[1].weight
    assert weight.shape == (3, WIDTH + 1) and weight.dtype == torch.float32
    assert module[1].bias is None
    np.testing.assert_array_equal(weight.detach().numpy(), model[1].weight.data.T)
    with torch.no_grad():
        weight.zero_()
    assert model[1].weight.data.any()  # not a view of minigrad's array


class Cube(mg.Activation):
    def function(self, x):
        return x * x * x

    def gradient(self, y, g):
        raise NotImplementedError


class Scale(mg.Layer):
    """A user's layer with a parameter and both hooks: ``y = x ⊙ s``."""

    def __init__(self):
        self.scale = mg.Parameter(np.arange(1.0, WIDTH + 1), name="scale")

    def forward(self, x):
        return x * self.scale.data

    def backward(self, grad_out):
        raise NotImplementedError

    def to_torch(self, convert):
        return TorchScale(self.scale.data)

    def from_torch_state(self, state):
        return {"scale": state["factor"]}


class TorchScale(torch.nn.Module):
    def __init__(self, scale):
        super().__init__()
        self.factor = torch.nn.Parameter(torch.tensor(scale))

    def forward(self, x):
        return x * self.factor


def test_a_user_layer_with_the_hooks_converts_and_loads():
    model = mg.Sequential(Scale(), mg.Tanh())
    module = to_torch(model)
    x = batch(WIDTH, np.float64)
    np.testing.assert_allclose(torch_out(module, x), model(x), atol=1e-12)
    state = {"0.factor": torch.full((WIDTH,), 2.0, dtype=torch.float64)}
    load_torch_state_dict(model, state)
    np.testing.assert_array_equal(model[0].scale.data, 2.0)


def test_a_layer_without_a_converter_is_refused():
    with pytest.raises(TypeError, match=r"Cube\(\).*to_torch\(self, convert\).*register_torch"):
        to_torch(mg.Sequential(mg.Dense(WIDTH, WIDTH), Cube()))


# -- loading a PyTorch state_dict -----------------------------------------------------


def test_a_state_dict_round_trips():
    source, _ = example_models()["residual MLP"]
    target = copy_as(source, np.float64)
    for param in target.parameters():
        param.data[...] = 0
    load_torch_state_dict(target, to_torch(source).state_dict())
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[key], value)


def test_numpy_values_are_accepted_too():
    model = mg.Sequential(mg.Dense(WIDTH, 3, rng=0))
    load_torch_state_dict(model, {"0.weight": np.ones((3, WIDTH))})
    np.testing.assert_array_equal(model[0].weight.data, 1.0)


def loading_fails(model, state, error, match):
    before = model.state_dict()
    with pytest.raises(error, match=match):
        load_torch_state_dict(model, state)
    for key, value in model.state_dict().items():  # nothing was written
        np.testing.assert_array_equal(value, before[key])


def test_loading_is_as_strict_as_load():
    model = mg.Sequential(mg.Bias(), mg.Dense(WIDTH + 1, 3, rng=0), mg.Dense(3, 2, rng=1))
    good = to_torch(model).state_dict()
    good = {key: torch.zeros_like(value) for key, value in good.items()}
    loading_fails(model, {"1.weight": good["1.weight"]}, KeyError,
                  r"missing keys \['2.weight'\]")
    loading_fails(model, {**good, "2.bias": torch.zeros(2)}, KeyError,
                  r"unexpected keys \['2.bias'\]")
    transposed = {**good, "1.weight": torch.zeros(WIDTH + 1, 3, dtype=torch.float64)}
    loading_fails(model, transposed, ValueError, r"'1.weight' has shape \(6, 3\)")
    single = {**good, "2.weight": good["2.weight"].float()}
    loading_fails(model, single, ValueError, r"'2.weight' .* dtype float32")


def test_the_uses_of_a_shared_weight_must_agree():
    model = shared_model()
    state = to_torch(model).state_dict()
    state["2.weight"] = state["2.weight"] + 1
    loading_fails(model, state, ValueError, "one shared weight")


def test_a_user_layer_with_parameters_needs_the_state_hook():
    class NoStateHook(Scale):
        from_torch_state = None

    model = mg.Sequential(NoStateHook())
    loading_fails(model, {"0.factor": torch.zeros(WIDTH, dtype=torch.float64)}, TypeError,
                  "from_torch_state")


def test_the_digits_cnn_computes_as_in_minigrad():
    import digits_cnn

    model = digits_cnn.build_model(0)
    module = to_torch(model).eval()
    assert isinstance(module[0], torch.nn.Conv2d) and module[0].padding == (1, 1)
    x = np.random.default_rng(0).uniform(0, 1, (16, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(torch_out(module, x), mg.predict(model, x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("library", ["torch", "array_api_strict"])
def test_a_moved_model_exports_as_it_is(library, tmp_path):
    """Trained on torch tensors (or any library), exported without moving it home."""
    lib = pytest.importorskip(library)
    pytest.importorskip("onnxruntime")
    from minigrad.export import to_onnx

    model = mg.Sequential(mg.Conv2D(1, 4, 3, rng=0), mg.ReLU(), mg.Flatten(),
                          mg.Dense(36, 3, bias=True, rng=0))
    x = np.random.default_rng(0).standard_normal((2, 1, 5, 5))
    expected = mg.predict(model, x)
    model.to(lib)
    module = to_torch(model)
    with torch.no_grad():
        np.testing.assert_allclose(module.eval()(torch.from_numpy(x)).numpy(), expected,
                                   rtol=1e-12, atol=1e-12)
    to_onnx(model, tmp_path / "m.onnx", input_shape=(None, 1, 5, 5))
    assert type(model[0].weight.data).__module__.split(".")[0] == library  # left moved
