"""The one seam between minigrad and the array libraries it computes with.

Layers are written once, against the Python Array API standard: a layer asks
`namespace` for the library of its input (``xp``) and calls ``xp.matmul``, ``xp.exp``,
``xp.sum``... The same code then runs on NumPy arrays, PyTorch tensors (CPU or CUDA),
CuPy arrays and ``array_api_strict`` arrays (the standard's reference, which refuses
anything non-standard) -- the way Chainer ran one codebase on NumPy and CuPy with
``xp = get_array_module(x)``.

Which namespace
    NumPy arrays get the ``numpy`` module itself: NumPy 2's main namespace follows the
    standard, and its calls cost less than the wrappers of ``array-api-compat``
    (``np.dot`` 1.0 µs, the wrapped ``matmul`` 2.3 µs on a 6×4 batch), which is what
    the blog net's 20 µs step is made of. Every other library goes through
    ``array_api_compat.array_namespace`` (imported on first use).

What is not in the standard
    The library-specific fast paths live here and nowhere else -- layers, losses and
    optimizers state their math and call a kernel named for it -- each with a standard
    fallback: the products (`matmul`, `matmul_into`, `grouped_matmul`: NumPy's
    ``np.dot``), the sums (`sum_rows`, `reduce_sum`: BLAS with ones), `sigmoid` (NumPy's
    overflow check, ``torch.sigmoid``), the optimizers' in-place updates
    (`UpdateKernels`: NumPy's ``out=`` ufuncs, torch's fused ``addcmul_``...), ...
    Randomness is always drawn from a NumPy ``Generator`` and then moved
    (`asarray_like`), so the same ``rng`` gives the same model on every backend.

It is three files, all re-exported here: `minigrad.backend.namespaces` (which library,
moving between libraries, `sigmoid`), `minigrad.backend.linalg` (matrix products and
sums), `minigrad.backend.kernels` (the layers' in-place writes: windows, sequence
layers, elementwise results into buffers), `minigrad.backend.updates` (the optimizers'
in-place update kernels), `minigrad.backend.loss_kernels` (the losses' reductions,
casts and class-index scatters), `minigrad.backend.convolution` (convolutions by a
library's own kernels or Winograd's, `minigrad.backend.winograd`) and
`minigrad.backend.gate_kernels` (the recurrent cells' gate nonlinearities, in place).
"""


from minigrad.backend.convolution import (
    convolve,
    convolve_backward,
    convolve_transposed,
    convolve_transposed_backward,
    has_conv_kernel,
)
from minigrad.backend.gate_kernels import gates_into
from minigrad.backend.kernels import (
    assign_rows,
    compute_into,
    compute_reusing,
    gate_positive,
    index_vector,
    last_writers,
    owned_copy,
    positive_part,
    reshape,
    scatter_add_rows,
    select,
    subtract_row_scaled,
    take_rows,
    update_slice,
    writable_reshape,
    zeros_in_layout,
)
from minigrad.backend.linalg import (
    grouped_matmul,
    matmul,
    matmul_into,
    mean_square,
    outer,
    reduce_sum,
    sum_rows,
)
from minigrad.backend.loss_kernels import (
    cast,
    constant_like,
    index_bounds,
    is_numpy_float,
    last_axis_max,
    last_axis_sum,
    scatter_last,
    subtract_at_last,
    sum_of_squares,
    wide_sum,
)
from minigrad.backend.namespaces import (
    Namespace,
    asarray,
    asarray_like,
    describe,
    device,
    empty_like_shape,
    fill_zero,
    is_foreign,
    move,
    namespace,
    numpy_dtype,
    resolve,
    same_place,
    sigmoid,
    to_numpy,
)
from minigrad.backend.updates import UpdateKernels, assign, update_kernels, vector_norm

__all__ = [
    "Namespace",
    "UpdateKernels",
    "asarray",
    "asarray_like",
    "assign",
    "assign_rows",
    "compute_into",
    "compute_reusing",
    "convolve",
    "convolve_backward",
    "convolve_transposed",
    "convolve_transposed_backward",
    "describe",
    "device",
    "empty_like_shape",
    "fill_zero",
    "gate_positive",
    "gates_into",
    "grouped_matmul",
    "has_conv_kernel",
    "index_vector",
    "is_foreign",
    "last_writers",
    "matmul",
    "matmul_into",
    "mean_square",
    "move",
    "namespace",
    "numpy_dtype",
    "outer",
    "owned_copy",
    "positive_part",
    "reduce_sum",
    "reshape",
    "resolve",
    "same_place",
    "scatter_add_rows",
    "select",
    "sigmoid",
    "subtract_row_scaled",
    "sum_rows",
    "take_rows",
    "to_numpy",
    "update_kernels",
    "update_slice",
    "vector_norm",
    "writable_reshape",
    "zeros_in_layout",
]
__all__ += [  # minigrad.backend.loss_kernels
    "cast",
    "constant_like",
    "index_bounds",
    "is_numpy_float",
    "last_axis_max",
    "last_axis_sum",
    "scatter_last",
    "subtract_at_last",
    "sum_of_squares",
    "wide_sum",
]
