"""The networks: stacks of GEMM layers (linear, or 1-D convolution run as an im2col GEMM).

Every layer is one GEMM  Y = A @ W^T + b  with W of shape (out, K):
  - linear: A is the layer input flattened to (B, in), K = in;
  - conv1d: activations are channel-last (B, L, C); A = im2col(x) of shape (B * L_out, k * C)
    with column j * C + c holding x[b, stride * o + j - pad, c] (zero outside the sequence), and
    Y (B * L_out, C_out) is read back as (B, L_out, C_out).
So each layer's training step is the same three GEMMs whatever its kind: forward A @ W^T, input
gradient dY @ W (then col2im for a convolution), weight gradient dY^T @ A.

MLP: scikit-learn digits, 64-64-64-10 (golden.train_digits' network). CNN1D: Greydanus 2020
("Scaling Down Deep Learning", MNIST-1D), three convolutions 1 -> 25 -> 25 -> 25 channels,
kernels 5/3/3, stride 2, padding 1, ReLU, then a linear layer 125 -> 10 (the paper's released
`ConvBase` model): sequence length 40 -> 19 -> 10 -> 5.
"""

import dataclasses
import math

import numpy as np

__all__ = ["Layer", "mlp", "cnn1d", "im2col", "col2im", "init_params", "layer_macs"]


@dataclasses.dataclass(frozen=True)
class Layer:
    kind: str            # "linear" | "conv1d"
    n_in: int            # input features (linear) or channels (conv1d)
    n_out: int
    kernel: int = 1
    stride: int = 1
    pad: int = 0
    length: int = 1      # conv1d: input sequence length

    @property
    def k(self):
        """The GEMM's reduction length K (columns of A, of W)."""
        return self.n_in * self.kernel

    @property
    def out_length(self):
        return (self.length + 2 * self.pad - self.kernel) // self.stride + 1 if self.kind == "conv1d" else 1

    @property
    def rows(self):
        """GEMM rows per sample (output positions)."""
        return self.out_length

    def to_rows(self, z):
        """The forward GEMM's A operand from the layer input z."""
        if self.kind == "linear":
            return z.reshape(z.shape[0], -1)
        return im2col(z, self.kernel, self.stride, self.pad)

    def from_rows(self, y, batch):
        """Layer output from the GEMM result rows."""
        return y if self.kind == "linear" else y.reshape(batch, self.out_length, self.n_out)

    def grad_to_rows(self, g):
        """Output gradient (shape of `from_rows`) as GEMM rows (B * rows, n_out)."""
        return g.reshape(-1, self.n_out)

    def rows_to_input(self, d_rows, in_shape):
        """Input gradient from the input-gradient GEMM's result (the adjoint of `to_rows`)."""
        if self.kind == "linear":
            return d_rows.reshape(in_shape)
        return col2im(d_rows, in_shape, self.kernel, self.stride, self.pad)


def mlp(n_in=64, hidden=(64, 64), n_out=10):
    sizes = (n_in, *hidden, n_out)
    return tuple(Layer("linear", a, b) for a, b in zip(sizes[:-1], sizes[1:]))


def cnn1d(length=40, channels=(1, 25, 25, 25), kernels=(5, 3, 3), stride=2, pad=1, n_out=10):
    layers = []
    for c_in, c_out, k in zip(channels[:-1], channels[1:], kernels):
        layers.append(Layer("conv1d", c_in, c_out, k, stride, pad, length))
        length = layers[-1].out_length
    return tuple(layers) + (Layer("linear", length * channels[-1], n_out),)


def _positions(length, k, stride, pad):
    out = (length + 2 * pad - k) // stride + 1
    return stride * np.arange(out)[:, None] + np.arange(k)[None, :]  # (L_out, k) into padded input


def im2col(x, k, stride, pad):
    """(B, L, C) -> (B * L_out, k * C): row (b, o) holds the padded input window of output o."""
    b, length, c = x.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (0, 0)))
    idx = _positions(length, k, stride, pad)
    return xp[:, idx, :].reshape(b * idx.shape[0], k * c)


def col2im(d, in_shape, k, stride, pad):
    """The adjoint of im2col: scatter-add the rows' gradients back onto (B, L, C)."""
    b, length, c = in_shape
    idx = _positions(length, k, stride, pad)
    d = d.reshape(b, idx.shape[0], k, c)
    dxp = np.zeros((b, length + 2 * pad, c))
    for j in range(k):  # within one kernel tap the positions are distinct: no colliding writes
        dxp[:, idx[:, j], :] += d[:, :, j, :]
    return dxp[:, pad:pad + length, :]


def init_params(net, rng):
    """He-normal weights N(0, 2 / K) (golden.train_digits' init), zero biases."""
    ws = [rng.normal(0, math.sqrt(2 / lay.k), size=(lay.n_out, lay.k)) for lay in net]
    bs = [np.zeros(lay.n_out) for lay in net]
    return ws, bs


def layer_macs(net):
    """Forward-GEMM MACs per sample of each layer, float64 (L,)."""
    return np.array([lay.rows * lay.k * lay.n_out for lay in net], dtype=np.float64)
