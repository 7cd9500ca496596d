"""Attention and transformer layers: MultiheadAttention, TransformerEncoderLayer,
TransformerEncoder, TransformerDecoderLayer, TransformerDecoder and Transformer
(``torch.nn``'s, with its parameter names: a PyTorch ``state_dict`` loads as it is)."""

from __future__ import annotations

import copy
import math
from typing import Any, Callable

from .. import dtypes
from .. import functional as _F
from ..tensor import Tensor, full, zeros
from . import functional as F
from . import init
from .containers import ModuleList
from .dropout import Dropout
from .layers import Linear
from .module import Module
from .normalization import LayerNorm
from .parameter import Parameter


def _float_mask(op: str, mask: Tensor | None, what: str, like: Tensor) -> Tensor | None:
    """A bool mask (True: masked out) as an additive float mask of ``like``'s dtype, as
    PyTorch's multi-head attention reads its masks; a float mask is added as it is."""
    if mask is None:
        return None
    if mask.dtype is dtypes.bool_:
        neg = full(mask.shape, float("-inf"), dtype=like.dtype, device=mask.device)
        return _F.where(mask, neg, 0.0)
    if not mask.dtype.is_floating:
        raise TypeError(f"{op}: {what} must be bool or floating point, got {mask.dtype}")
    return _F.to_dtype(mask, like.dtype)


class MultiheadAttention(Module):
    """Multi-head attention: ``out_proj(concat_h softmax(q_h k_h^T / sqrt(d) + mask) v_h)``
    with q, k, v projected by ``in_proj_weight`` (or ``q/k/v_proj_weight`` when kdim or
    vdim differ from embed_dim).

    Inputs are (L, N, E) (or (N, L, E) with ``batch_first=True``, or unbatched (L, E)).
    ``attn_mask``: (L, S) or (N * num_heads, L, S); ``key_padding_mask``: (N, S); bool masks
    mark the positions NOT to attend (True), float masks are added to the scores. Returns
    ``(output, weights)``; weights (averaged over heads unless ``average_attn_weights=False``)
    only when ``need_weights=True`` (else None, and the fused
    ``scaled_dot_product_attention`` runs). Init as PyTorch: xavier_uniform_ projections,
    zero biases. add_bias_kv and add_zero_attn are not supported.

    >>> mha = nn.MultiheadAttention(16, 4, batch_first=True)
    >>> x = vkgrad.randn(2, 7, 16)
    >>> mha(x, x, x)[0].shape
    (2, 7, 16)
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"MultiheadAttention: embed_dim and num_heads must be greater than 0, got "
                f"embed_dim={embed_dim} and num_heads={num_heads} instead"
            )
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads "
                f"({num_heads})"
            )
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError(
                "MultiheadAttention: add_bias_kv and add_zero_attn are not supported"
            )
        kw = dict(device=device, dtype=dtype)
        self.embed_dim = int(embed_dim)
        self.kdim = int(kdim) if kdim is not None else self.embed_dim
        self.vdim = int(vdim) if vdim is not None else self.embed_dim
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.num_heads = int(num_heads)
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = self.embed_dim // self.num_heads
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(zeros(3 * e, e, **kw))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(zeros(e, e, **kw))
            self.k_proj_weight = Parameter(zeros(e, self.kdim, **kw))
            self.v_proj_weight = Parameter(zeros(e, self.vdim, **kw))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(zeros(3 * e, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias, **kw)
        self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _projections(self, query: Tensor, key: Tensor, value: Tensor) -> tuple:
        e = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else _F.split(b, e)
        if self._qkv_same_embed_dim:
            if query is key and key is value:
                # Self-attention: one matmul for the three projections.
                return tuple(_F.chunk(F.linear(query, self.in_proj_weight, b), 3, -1))
            wq, wk, wv = _F.split(self.in_proj_weight, e)
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple:
        op = "MultiheadAttention"
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(
                f"{op}: query, key and value must all be 3-D (batched) or 2-D (unbatched), "
                f"got shapes {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
            )
        if is_causal and attn_mask is None:
            raise RuntimeError(
                f"{op}: need attn_mask if specifying the is_causal hint (pass the causal mask "
                "as attn_mask)"
            )
        same = query is key and key is value
        if not batched:
            query, key, value = (_F.unsqueeze(t, 0) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = _F.unsqueeze(key_padding_mask, 0)
        elif not self.batch_first:
            query, key, value = (_F.transpose(t, 0, 1) for t in (query, key, value))
        if same:
            key = value = query
        n, lq, e = query.shape
        s = key.shape[1]
        if e != self.embed_dim or key.shape[2] != self.kdim or value.shape[2] != self.vdim:
            raise ValueError(
                f"{op}: query, key, value feature sizes ({e}, {key.shape[2]}, "
                f"{value.shape[2]}) must be embed_dim, kdim, vdim = "
                f"({self.embed_dim}, {self.kdim}, {self.vdim})"
            )
        if key.shape[:2] != value.shape[:2] or key.shape[0] != n:
            raise ValueError(
                f"{op}: key and value must have the same batch and length, and the batch of "
                f"query; got shapes {tuple(key.shape)}, {tuple(value.shape)} for query "
                f"{tuple(query.shape)} (batch first)"
            )
        h, hd = self.num_heads, self.head_dim
        q, k, v = self._projections(query, key, value)

        def heads(t: Tensor, length: int) -> Tensor:  # (N, T, E) -> (N, H, T, hd)
            return _F.permute(_F.reshape(t, (n, length, h, hd)), (0, 2, 1, 3))

        q, k, v = heads(q, lq), heads(k, s), heads(v, s)
        mask = self._merged_mask(attn_mask, key_padding_mask, q, n, lq, s)
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = _F.matmul(q * (1.0 / math.sqrt(hd)), _F.transpose(k, -2, -1))
            if mask is not None:
                scores = scores + mask
            attn = _F.softmax(scores, -1)
            if p > 0.0:
                attn = F.dropout(attn, p)
            out = _F.matmul(attn, v)
            weights = _F.mean(attn, 1) if average_attn_weights else attn
            if not batched:
                weights = _F.squeeze(weights, 0)
        else:
            out = F.scaled_dot_product_attention(q, k, v, mask, p)
        out = _F.reshape(_F.permute(out, (0, 2, 1, 3)), (n, lq, e))
        out = self.out_proj(out)
        if not batched:
            out = _F.squeeze(out, 0)
        elif not self.batch_first:
            out = _F.transpose(out, 0, 1)
        return out, weights

    def _merged_mask(self, attn_mask, key_padding_mask, q, n, lq, s) -> Tensor | None:
        """attn_mask and key_padding_mask as one additive mask broadcastable to
        (N, H, L, S)."""
        op = "MultiheadAttention"
        h = self.num_heads
        am = _float_mask(op, attn_mask, "attn_mask", q)
        if am is not None:
            if tuple(am.shape) == (lq, s):
                pass
            elif tuple(am.shape) == (n * h, lq, s):
                am = _F.reshape(am, (n, h, lq, s))
            else:
                raise RuntimeError(
                    f"{op}: attn_mask shape {tuple(am.shape)} must be {(lq, s)} or {(n * h, lq, s)}"
                )
        kpm = _float_mask(op, key_padding_mask, "key_padding_mask", q)
        if kpm is not None:
            if tuple(kpm.shape) != (n, s):
                raise RuntimeError(
                    f"{op}: key_padding_mask shape {tuple(kpm.shape)}, expected {(n, s)}"
                )
            kpm = _F.reshape(kpm, (n, 1, 1, s))
            am = kpm if am is None else am + kpm
        return am


def _get_activation_fn(activation: str) -> Callable:
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


class _TransformerLayer(Module):
    """What the encoder and decoder layers share: the self-attention and feed-forward blocks,
    their norms and dropouts, and the residual step with the norm after the residual or
    (``norm_first``) before the block.

    Submodules are registered in PyTorch's order (the decoder's ``_cross_attention`` adds
    ``multihead_attn`` after ``self_attn``, and a third norm and dropout), so parameter order
    and ``state_dict`` keys match PyTorch's for both layers.
    """

    _cross_attention = False

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        cross_attention = self._cross_attention
        kw = dict(device=device, dtype=dtype)
        attention = dict(dropout=dropout, bias=bias, batch_first=batch_first, **kw)
        self.self_attn = MultiheadAttention(d_model, nhead, **attention)
        if cross_attention:
            self.multihead_attn = MultiheadAttention(d_model, nhead, **attention)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        blocks = 3 if cross_attention else 2
        for i in range(1, blocks + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        for i in range(1, blocks + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        if not cross_attention:
            # PyTorch's encoder layer (not its decoder layer) records which built-in
            # activation it has, for its fast path; kept for code that reads it.
            self.activation_relu_or_gelu = (
                1 if activation is F.relu else 2 if activation is F.gelu else 0
            )
        self.activation = activation

    def _residual(self, x: Tensor, norm: Module, block: Callable, *args: Any) -> Tensor:
        if self.norm_first:
            return x + block(norm(x), *args)
        return norm(x + block(x, *args))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal) -> Tensor:
        x = self.self_attn(
            x,
            x,
            x,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=bool(is_causal),
        )[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        # The feed-forward block comes last: its dropout is the last one.
        return (self.dropout3 if self._cross_attention else self.dropout2)(x)


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention and a feed-forward block, each with a residual connection, dropout
    and LayerNorm (after the residual; before the block with ``norm_first=True``).

    >>> layer = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True)
    >>> layer(vkgrad.randn(2, 7, 16)).shape
    (2, 7, 16)
    """

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        x = self._residual(
            src, self.norm1, self._sa_block, src_mask, src_key_padding_mask, is_causal
        )
        return self._residual(x, self.norm2, self._ff_block)


class _LayerStack(Module):
    """What the encoder and decoder stacks share: ``num_layers`` copies of one layer (each
    starting from its parameter values) applied in turn, then ``norm`` if given."""

    def __init__(self, layer: Module, num_layers: int, norm: Module | None) -> None:
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def _run(self, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        for layer in self.layers:
            x = layer(x, *args, **kwargs)
        return x if self.norm is None else self.norm(x)


class TransformerEncoder(_LayerStack):
    """``num_layers`` copies of ``encoder_layer`` (each starting from its parameter values)
    applied in turn, then ``norm`` if given.

    >>> enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 4, 32), num_layers=2)
    >>> enc(vkgrad.randn(7, 2, 16)).shape
    (7, 2, 16)
    """

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__(encoder_layer, num_layers, norm)
        # Accepted for compatibility: there are no nested tensors here.
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(
        self,
        src: Tensor,
        mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        return self._run(
            src, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal)
        )


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention over the target, attention from the target to ``memory`` (the
    encoder's output) and a feed-forward block, each with a residual connection, dropout and
    LayerNorm (after the residual; before the block with ``norm_first=True``).

    ``tgt_mask`` (T, T) / ``memory_mask`` (T, S), or (N * nhead, ...), and the key padding
    masks (N, T) / (N, S) are bool (True: masked out) or additive float masks, as in
    MultiheadAttention. ``tgt_is_causal`` / ``memory_is_causal`` are hints that need the mask.

    >>> layer = nn.TransformerDecoderLayer(16, 4, 32, batch_first=True)
    >>> layer(vkgrad.randn(2, 5, 16), vkgrad.randn(2, 7, 16)).shape
    (2, 5, 16)
    """

    _cross_attention = True

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        x = self._residual(
            tgt, self.norm1, self._sa_block, tgt_mask, tgt_key_padding_mask, tgt_is_causal
        )
        x = self._residual(
            x,
            self.norm2,
            self._mha_block,
            memory,
            memory_mask,
            memory_key_padding_mask,
            memory_is_causal,
        )
        return self._residual(x, self.norm3, self._ff_block)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal) -> Tensor:
        x = self.multihead_attn(
            x,
            mem,
            mem,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=bool(is_causal),
        )[0]
        return self.dropout2(x)


class TransformerDecoder(_LayerStack):
    """``num_layers`` copies of ``decoder_layer`` (each starting from its parameter values)
    applied in turn to the target, each attending to ``memory``, then ``norm`` if given.

    >>> dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(16, 4, 32), num_layers=2)
    >>> dec(vkgrad.randn(5, 2, 16), vkgrad.randn(7, 2, 16)).shape
    (5, 2, 16)
    """

    def __init__(
        self,
        decoder_layer: TransformerDecoderLayer,
        num_layers: int,
        norm: Module | None = None,
    ) -> None:
        super().__init__(decoder_layer, num_layers, norm)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        # PyTorch compares tgt_mask with a causal mask when tgt_is_causal is None; the hint
        # changes nothing here (the mask is always applied), so no host read is made for it.
        return self._run(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=bool(tgt_is_causal),
            memory_is_causal=memory_is_causal,
        )


def _square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
    """(sz, sz) float mask: -inf above the diagonal (future positions), 0 elsewhere."""
    return _F.triu(full((sz, sz), float("-inf"), dtype=dtype, device=device), 1)


class Transformer(Module):
    """The encoder-decoder Transformer of "Attention Is All You Need": a TransformerEncoder
    of ``num_encoder_layers`` layers and a TransformerDecoder of ``num_decoder_layers``, each
    followed by a LayerNorm; every parameter of 2 or more dims is initialised with
    ``xavier_uniform_``, as PyTorch. ``forward(src, tgt, ...)`` returns the decoder's output
    for ``tgt`` (its length), with the masks of the encoder and decoder layers.

    >>> model = nn.Transformer(16, 4, 2, 2, 32, batch_first=True)
    >>> src, tgt = vkgrad.randn(2, 7, 16), vkgrad.randn(2, 5, 16)
    >>> mask = nn.Transformer.generate_square_subsequent_mask(5)
    >>> model(src, tgt, tgt_mask=mask).shape
    (2, 5, 16)
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        args = (
            d_model,
            nhead,
            dim_feedforward,
            dropout,
            activation,
            layer_norm_eps,
            batch_first,
            norm_first,
            bias,
        )
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*args, **kw),
                num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw),
            )
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*args, **kw),
                num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw),
            )
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask: Tensor | None = None,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        tgt_key_padding_mask: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        op = "Transformer"
        if src.ndim not in (2, 3) or tgt.ndim != src.ndim:
            raise ValueError(
                f"{op}: src and tgt must both be 3-D (batched) or 2-D (unbatched), got shapes "
                f"{tuple(src.shape)} and {tuple(tgt.shape)}"
            )
        if src.ndim == 3:
            b = 0 if self.batch_first else 1
            if src.shape[b] != tgt.shape[b]:
                raise ValueError(
                    f"{op}: the batch size of src and tgt must be equal (dim {b}), got shapes "
                    f"{tuple(src.shape)} and {tuple(tgt.shape)} (batch_first={self.batch_first})"
                )
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(
                f"{op}: the feature size of src and tgt must equal d_model ({self.d_model}), "
                f"got shapes {tuple(src.shape)} and {tuple(tgt.shape)}"
            )
        memory = self.encoder(
            src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal
        )
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """The (sz, sz) causal mask: -inf above the diagonal, 0 elsewhere.

        >>> nn.Transformer.generate_square_subsequent_mask(3)
        """
        return _square_subsequent_mask(sz, device=device, dtype=dtype)
