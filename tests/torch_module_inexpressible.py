"""The PyTorch module configurations (tests/torch_module_configs.py) that minigrad cannot
express, with why: what tests/test_torch_module_configs.py expects to find. "pending: ..."
ones name a minigrad class not merged yet; "refused by minigrad: ..." quote the layer's
own error. Update this list when minigrad gains (or loses) an option.
"""

# ruff: noqa: E501

INEXPRESSIBLE: dict[str, str] = {
    'BatchNorm1d[zero_batch][train]':
        'an empty batch (N = 0): minigrad layers refuse empty input',
    'BatchNorm1d[affine_not_bias][train]':
        "BatchNorm1d(bias=False): mg.BatchNorm1D has no 'bias'",
    'BatchNorm1d[zero_batch][eval]':
        'an empty batch (N = 0): minigrad layers refuse empty input',
    'BatchNorm1d[affine_not_bias][eval]':
        "BatchNorm1d(bias=False): mg.BatchNorm1D has no 'bias'",
    'BatchNorm2d[zero_batch][train]':
        'an empty batch (N = 0): minigrad layers refuse empty input',
    'BatchNorm2d[affine_not_bias][train]':
        "BatchNorm2d(bias=False): mg.BatchNorm2D has no 'bias'",
    'BatchNorm2d[zero_batch][eval]':
        'an empty batch (N = 0): minigrad layers refuse empty input',
    'BatchNorm2d[affine_not_bias][eval]':
        "BatchNorm2d(bias=False): mg.BatchNorm2D has no 'bias'",
    'BatchNorm3d[default][train]':
        'pending: mg.BatchNorm3D is not in this minigrad yet',
    'BatchNorm3d[3d_simple_average][train]':
        'pending: mg.BatchNorm3D is not in this minigrad yet',
    'BatchNorm3d[momentum][train]':
        'pending: mg.BatchNorm3D is not in this minigrad yet',
    'BatchNorm3d[not_affine][train]':
        'pending: mg.BatchNorm3D is not in this minigrad yet',
    'BatchNorm3d[not_tracking_stats][train]':
        'pending: mg.BatchNorm3D is not in this minigrad yet',
    'BatchNorm3d[zero_batch][train]':
        'an empty batch (N = 0): minigrad layers refuse empty input',
    'BatchNorm3d[affine_not_bias][train]':
        'pending: mg.BatchNorm3D is not in this minigrad yet',
    'BatchNorm3d[default][eval]':
        'pending: mg.BatchNorm3D is not in this minigrad yet',
    'BatchNorm3d[3d_simple_average][eval]':
        'pending: mg.BatchNorm3D is not in this minigrad yet',
    'BatchNorm3d[momentum][eval]':
        'pending: mg.BatchNorm3D is not in this minigrad yet',
    'BatchNorm3d[not_affine][eval]':
        'pending: mg.BatchNorm3D is not in this minigrad yet',
    'BatchNorm3d[not_tracking_stats][eval]':
        'pending: mg.BatchNorm3D is not in this minigrad yet',
    'BatchNorm3d[zero_batch][eval]':
        'an empty batch (N = 0): minigrad layers refuse empty input',
    'BatchNorm3d[affine_not_bias][eval]':
        'pending: mg.BatchNorm3D is not in this minigrad yet',
    'CELU[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'ELU[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'GELU[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'GroupNorm[1d_affine_not_bias]':
        "GroupNorm(bias=False): mg.GroupNorm has no 'bias'",
    'GroupNorm[2d_affine_not_bias]':
        "GroupNorm(bias=False): mg.GroupNorm has no 'bias'",
    'Hardtanh[scalar]':
        'a 0-d (scalar) input: minigrad layers take a batch axis',
    'InstanceNorm1d[default][train]':
        'pending: mg.InstanceNorm1D is not in this minigrad yet',
    'InstanceNorm1d[tracking_stats][train]':
        'pending: mg.InstanceNorm1D is not in this minigrad yet',
    'InstanceNorm1d[tracking_stats_no_batch_dim][train]':
        'pending: mg.InstanceNorm1D is not in this minigrad yet',
    'InstanceNorm1d[no_batch_dim][train]':
        'pending: mg.InstanceNorm1D is not in this minigrad yet',
    'InstanceNorm1d[affine][train]':
        'pending: mg.InstanceNorm1D is not in this minigrad yet',
    'InstanceNorm1d[affine_not_bias][train]':
        'pending: mg.InstanceNorm1D is not in this minigrad yet',
    'InstanceNorm1d[default][eval]':
        'pending: mg.InstanceNorm1D is not in this minigrad yet',
    'InstanceNorm1d[tracking_stats][eval]':
        'pending: mg.InstanceNorm1D is not in this minigrad yet',
    'InstanceNorm1d[tracking_stats_no_batch_dim][eval]':
        'pending: mg.InstanceNorm1D is not in this minigrad yet',
    'InstanceNorm1d[no_batch_dim][eval]':
        'pending: mg.InstanceNorm1D is not in this minigrad yet',
    'InstanceNorm1d[affine][eval]':
        'pending: mg.InstanceNorm1D is not in this minigrad yet',
    'InstanceNorm1d[affine_not_bias][eval]':
        'pending: mg.InstanceNorm1D is not in this minigrad yet',
    'InstanceNorm2d[default][train]':
        'pending: mg.InstanceNorm2D is not in this minigrad yet',
    'InstanceNorm2d[tracking_stats][train]':
        'pending: mg.InstanceNorm2D is not in this minigrad yet',
    'InstanceNorm2d[tracking_stats_no_batch_dim][train]':
        'pending: mg.InstanceNorm2D is not in this minigrad yet',
    'InstanceNorm2d[no_batch_dim][train]':
        'pending: mg.InstanceNorm2D is not in this minigrad yet',
    'InstanceNorm2d[affine][train]':
        'pending: mg.InstanceNorm2D is not in this minigrad yet',
    'InstanceNorm2d[affine_not_bias][train]':
        'pending: mg.InstanceNorm2D is not in this minigrad yet',
    'InstanceNorm2d[default][eval]':
        'pending: mg.InstanceNorm2D is not in this minigrad yet',
    'InstanceNorm2d[tracking_stats][eval]':
        'pending: mg.InstanceNorm2D is not in this minigrad yet',
    'InstanceNorm2d[tracking_stats_no_batch_dim][eval]':
        'pending: mg.InstanceNorm2D is not in this minigrad yet',
    'InstanceNorm2d[no_batch_dim][eval]':
        'pending: mg.InstanceNorm2D is not in this minigrad yet',
    'InstanceNorm2d[affine][eval]':
        'pending: mg.InstanceNorm2D is not in this minigrad yet',
    'InstanceNorm2d[affine_not_bias][eval]':
        'pending: mg.InstanceNorm2D is not in this minigrad yet',
    'InstanceNorm3d[default][train]':
        'pending: mg.InstanceNorm3D is not in this minigrad yet',
    'InstanceNorm3d[tracking_stats][train]':
        'pending: mg.InstanceNorm3D is not in this minigrad yet',
    'InstanceNorm3d[tracking_stats_no_batch_dim][train]':
        'pending: mg.InstanceNorm3D is not in this minigrad yet',
    'InstanceNorm3d[no_batch_dim][train]':
        'pending: mg.InstanceNorm3D is not in this minigrad yet',
    'InstanceNorm3d[affine][train]':
        'pending: mg.InstanceNorm3D is not in this minigrad yet',
    'InstanceNorm3d[affine_not_bias][train]':
        'pending: mg.InstanceNorm3D is not in this minigrad yet',
    'InstanceNorm3d[default][eval]':
        'pending: mg.InstanceNorm3D is not in this minigrad yet',
    'InstanceNorm3d[tracking_stats][eval]':
        'pending: mg.InstanceNorm3D is not in this minigrad yet',
    'InstanceNorm3d[tracking_stats_no_batch_dim][eval]':
        'pending: mg.InstanceNorm3D is not in this minigrad yet',
    'InstanceNorm3d[no_batch_dim][eval]':
        'pending: mg.InstanceNorm3D is not in this minigrad yet',
    'InstanceNorm3d[affine][eval]':
        'pending: mg.InstanceNorm3D is not in this minigrad yet',
    'InstanceNorm3d[affine_not_bias][eval]':
        'pending: mg.InstanceNorm3D is not in this minigrad yet',
    'LayerNorm[1d_empty_elementwise_affine]':
        'an empty batch (N = 0): minigrad layers refuse empty input',
    'LayerNorm[3d_elementwise_affine_no_bias]':
        "LayerNorm(bias=False): mg.LayerNorm has no 'bias'",
    'RMSNorm[1d_elementwise_affine]':
        'pending: mg.RMSNorm is not in this minigrad yet',
    'RMSNorm[1d_elementwise_affine_large_batch]':
        'pending: mg.RMSNorm is not in this minigrad yet',
    'RMSNorm[1d_no_elementwise_affine]':
        'pending: mg.RMSNorm is not in this minigrad yet',
    'RMSNorm[3d_elementwise_affine]':
        'pending: mg.RMSNorm is not in this minigrad yet',
    'RMSNorm[3d_no_elementwise_affine]':
        'pending: mg.RMSNorm is not in this minigrad yet',
    'RMSNorm[1d_empty_elementwise_affine]':
        'an empty batch (N = 0): minigrad layers refuse empty input',
    'TransformerEncoderLayer[no_bias][train]':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_True][train]#2':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_False][train]#2':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_True][train]#4':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_False][train]#4':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_True][train]#6':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_False][train]#6':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_True][train]#8':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_False][train]#8':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_True][train]#10':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_False][train]#10':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_True][train]#12':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_False][train]#12':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_True][train]#14':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_False][train]#14':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_True][train]#16':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_False][train]#16':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[fastpath_False_norm_first_True][train]':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[fastpath_False_norm_first_False][train]':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_bias][eval]':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_True][eval]#2':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_False][eval]#2':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_True][eval]#4':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_False][eval]#4':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_True][eval]#6':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_False][eval]#6':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_True][eval]#8':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_False][eval]#8':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_True][eval]#10':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_False][eval]#10':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_True][eval]#12':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_False][eval]#12':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_True][eval]#14':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_False][eval]#14':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_True][eval]#16':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerEncoderLayer[no_batch_dim_batch_first_False][eval]#16':
        'refused by minigrad: TransformerEncoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[no_bias]':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[no_batch_dim_batch_first_True]#2':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[norm_first_True_batch_first_True_bias_False]':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[no_batch_dim_batch_first_False]#2':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[norm_first_True_batch_first_False_bias_False]':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[no_batch_dim_batch_first_True]#4':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[norm_first_False_batch_first_True_bias_False]':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[no_batch_dim_batch_first_False]#4':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[norm_first_False_batch_first_False_bias_False]':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[no_batch_dim_batch_first_True]#6':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[norm_first_True_batch_first_True_bias_False]#2':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[no_batch_dim_batch_first_False]#6':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[norm_first_True_batch_first_False_bias_False]#2':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[no_batch_dim_batch_first_True]#8':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[norm_first_False_batch_first_True_bias_False]#2':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[no_batch_dim_batch_first_False]#8':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[norm_first_False_batch_first_False_bias_False]#2':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[no_batch_dim_batch_first_True]#10':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[norm_first_True_batch_first_True_bias_False]#3':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[no_batch_dim_batch_first_False]#10':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[norm_first_True_batch_first_False_bias_False]#3':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[no_batch_dim_batch_first_True]#12':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[norm_first_False_batch_first_True_bias_False]#3':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[no_batch_dim_batch_first_False]#12':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[norm_first_False_batch_first_False_bias_False]#3':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[no_batch_dim_batch_first_True]#14':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[norm_first_True_batch_first_True_bias_False]#4':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[no_batch_dim_batch_first_False]#14':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[norm_first_True_batch_first_False_bias_False]#4':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[no_batch_dim_batch_first_True]#16':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[norm_first_False_batch_first_True_bias_False]#4':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[no_batch_dim_batch_first_False]#16':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
    'TransformerDecoderLayer[norm_first_False_batch_first_False_bias_False]#4':
        'refused by minigrad: TransformerDecoderLayer: bias=False needs a LayerNorm without bias, which minigrad does not have yet; use bias=True',
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
