"""The PyTorch module configurations (tests/torch_module_configs.py) that minigrad cannot
express, with why: what tests/test_torch_module_configs.py expects to find. "pending: ..."
ones name a minigrad class not merged yet; "refused by minigrad: ..." quote the layer's
own error. Update this list when minigrad gains (or loses) an option.
"""


INEXPRESSIBLE: dict[str, str] = {
    'BatchNorm1d[zero_batch][train]':
        'an empty batch (N = 0): minigrad layers refuse empty input',
    'BatchNorm1d[zero_batch][eval]':
        'an empty batch (N = 0): minigrad layers refuse empty input',
    'BatchNorm2d[zero_batch][train]':
        'an empty batch (N = 0): minigrad layers refuse empty input',
    'BatchNorm2d[zero_batch][eval]':
        'an empty batch (N = 0): minigrad layers refuse empty input',
    'BatchNorm3d[zero_batch][train]':
        'an empty batch (N = 0): minigrad layers refuse empty input',
    'BatchNorm3d[zero_batch][eval]':
        'an empty batch (N = 0): minigrad layers refuse empty input',
    'CELU[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'ELU[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'GELU[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'Hardtanh[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'LayerNorm[1d_empty_elementwise_affine]':
        'an empty batch (N = 0): minigrad layers refuse empty input',
    'RMSNorm[1d_empty_elementwise_affine]':
        'an empty batch (N = 0): minigrad layers refuse empty input',
    'ReLU[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'LeakyReLU[with_negval_scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'ReLU6[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'PReLU[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'Sigmoid[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'LogSigmoid[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'SiLU[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'Softmax[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'LogSoftmax[multiparam_scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'Softmin[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'Softplus[beta_threshold_scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'Softsign[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'Tanh[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'Tanhshrink[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'Threshold[threshold_value_scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'Mish[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'SELU[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
}
