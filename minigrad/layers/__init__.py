"""The layers, one module or sub-package per family.

==================  =================================================================
family              layers
==================  =================================================================
`dense`             `Dense` (the weights), `Bias` (the bias node), `Identity`
`activations`       elementwise nonlinearities and softmax; the ones whose derivative
                    needs the input (`GELU`, `SiLU`) in `activations.from_input`
`regularization`    `Dropout`
`reshape`           `Flatten`, `Reshape`
`merge`             `Add`, `Concat` (merge layers: several inputs)
`conv`              convolutions (1-3 D, every padding mode), transposed
                    convolutions and pooling, on the sliding-window kernels they share
                    (`conv.windows`)
`resampling`        `Upsample`, `PixelShuffle`, `PixelUnshuffle`
`normalization`     batch, instance, layer, RMS and group normalization, on
                    their shared standardization
`embedding`         `Embedding`
`recurrent`         `RNN`, `LSTM`, `GRU` (stacked, bidirectional) and their one-step
                    cells, on their shared time loop
`attention`         `MultiHeadAttention`, `CrossAttention`
==================  =================================================================

Every layer is re-exported by `minigrad` itself (``mg.Dense``); these paths say where
its forward and backward are written.
"""
