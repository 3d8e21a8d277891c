"""State-dict key mappings between audiocraft / transformers EnCodec layouts and our codec.

Our codec's keys are transformers' for the SEANet (``encoder.layers.N.conv.parametrizations
.weight.original0/1``) and vector-quantize-pytorch's for the codebooks
(``quantizer.layers.Q._codebook.{initted, cluster_size [1,bins], embed [1,bins,D], embed_avg}``).

audiocraft (``spec: valle.md`` A): ``encoder.model.N.conv.conv.weight_g`` (legacy weight-norm
hook names), ``...convtr.convtr.X``, ``...block.J.conv.conv.X``, ``...lstm.X``,
``quantizer.vq.layers.Q._codebook.{inited [1], cluster_size [bins], embed [bins,D], embed_avg}``.
transformers: ``quantizer.layers.Q.codebook.X`` with audiocraft's shapes.

``strict_load`` compares the mapped dict with the model's and raises one error naming the
missing, unexpected and mis-shaped keys.
"""

from __future__ import annotations

import re

import torch

_WN = {"weight_g": "parametrizations.weight.original0", "weight_v": "parametrizations.weight.original1"}
_AC_CONV = re.compile(
    r"^(encoder|decoder)\.model\.(\d+)\.(?:conv\.conv|convtr\.convtr)\."
    r"(weight_g|weight_v|bias|weight)$"
)
_AC_NORM = re.compile(r"^(encoder|decoder)\.model\.(\d+)\.(?:conv|convtr)\.norm\.(weight|bias)$")
_AC_BLOCK = re.compile(
    r"^(encoder|decoder)\.model\.(\d+)\.(block\.\d+|shortcut)\.conv\.conv\."
    r"(weight_g|weight_v|bias|weight)$"
)
_AC_LSTM = re.compile(r"^(encoder|decoder)\.model\.(\d+)\.lstm\.(\w+)$")
_AC_VQ = re.compile(r"^quantizer\.vq\.layers\.(\d+)\._codebook\.(inited|cluster_size|embed|embed_avg)$")
_HF_VQ = re.compile(r"^quantizer\.layers\.(\d+)\.codebook\.(inited|cluster_size|embed|embed_avg)$")
_HF_LEGACY_WN = re.compile(r"^(.*\.conv)\.(weight_g|weight_v)$")
_OUR_VQ = re.compile(r"^quantizer\.layers\.(\d+)\._codebook\.(initted|cluster_size|embed|embed_avg)$")


class CodecCheckpointError(ValueError):
    """A checkpoint that does not fit the codec: names the missing, unexpected and mis-shaped keys."""


def _codebook_to_ours(q: str, name: str, t: torch.Tensor) -> tuple[str, torch.Tensor]:
    """audiocraft/transformers codebook buffer -> vector-quantize-pytorch's (one head)."""
    if name == "inited":
        return f"quantizer.layers.{q}._codebook.initted", (t.reshape(-1)[0] > 0) if t.numel() else t.bool()
    return f"quantizer.layers.{q}._codebook.{name}", t.unsqueeze(0)


def _wn(name: str) -> str:
    return _WN.get(name, name)


def from_audiocraft(sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(mapped state dict, keys that match no audiocraft EnCodec pattern)."""
    out, unknown = {}, []
    for k, v in sd.items():
        if m := _AC_CONV.match(k):
            out[f"{m[1]}.layers.{m[2]}.conv.{_wn(m[3])}"] = v
        elif m := _AC_NORM.match(k):
            out[f"{m[1]}.layers.{m[2]}.norm.{m[3]}"] = v
        elif m := _AC_BLOCK.match(k):
            out[f"{m[1]}.layers.{m[2]}.{m[3]}.conv.{_wn(m[4])}"] = v
        elif m := _AC_LSTM.match(k):
            out[f"{m[1]}.layers.{m[2]}.lstm.{m[3]}"] = v
        elif m := _AC_VQ.match(k):
            name, t = _codebook_to_ours(m[1], m[2], v)
            out[name] = t
        else:
            unknown.append(k)
    return out, unknown


def from_transformers(sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """transformers ``EncodecModel`` keys (parametrized or legacy weight-norm names)."""
    out, unknown = {}, []
    for k, v in sd.items():
        if m := _HF_VQ.match(k):
            name, t = _codebook_to_ours(m[1], m[2], v)
            out[name] = t
        elif k.startswith(("encoder.layers.", "decoder.layers.")):
            m = _HF_LEGACY_WN.match(k)
            out[f"{m[1]}.{_WN[m[2]]}" if m else k] = v
        else:
            unknown.append(k)
    return out, unknown


def to_transformers(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our state dict in transformers' ``EncodecModel`` layout (for export)."""
    out = {}
    for k, v in sd.items():
        if m := _OUR_VQ.match(k):
            name = "inited" if m[2] == "initted" else m[2]
            out[f"quantizer.layers.{m[1]}.codebook.{name}"] = v.float().reshape(1) if m[2] == "initted" else v[0]
        else:
            out[k] = v
    return out


def strict_load(model: torch.nn.Module, sd: dict[str, torch.Tensor], source: str, unknown: list[str] = ()) -> None:
    """Copy ``sd`` into ``model``; any missing / unexpected / mis-shaped key is one named error."""
    want = model.state_dict()
    missing = sorted(set(want) - set(sd))
    unexpected = sorted(set(unknown) | (set(sd) - set(want)))
    shaped = sorted(
        f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(want[k].shape)}"
        for k in set(sd) & set(want)
        if tuple(sd[k].shape) != tuple(want[k].shape)
    )
    if missing or unexpected or shaped:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", shaped)):
            if keys:
                more = f" (+{len(keys) - 8} more)" if len(keys) > 8 else ""
                parts.append(f"{len(keys)} {label}: {', '.join(keys[:8])}{more}")
        raise CodecCheckpointError(f"{source} does not fit the codec config: " + "; ".join(parts))
    model.load_state_dict({k: v.to(want[k].dtype) for k, v in sd.items()}, strict=True)
