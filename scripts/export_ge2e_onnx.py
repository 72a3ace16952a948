"""Write the GE2E speaker encoder's ONNX graph (no weights inside) for ONNX Runtime.

The graph is the network `streamface.voice.encoder_torch.TorchSpeakerEncoder` defines
(3-layer LSTM 40 -> 256, linear 256 -> 256, ReLU, L2 norm), written with ``onnx.helper``
at development time and shipped as ``streamface/voice/assets/ge2e_encoder.onnx`` (a few
KB). Its initializers are ONNX *external data* that point at the raw arrays inside the
shipped, uncompressed ``ge2e_encoder.npz`` (byte offset and length of each ``.npy``
member's data), the one copy of Resemblyzer's values; the graph reorders the LSTM gates
from torch's layout to ONNX's itself (constant-folded when the session loads). So the
wheel carries the weights once, and an embedding needs neither torch nor the ``onnx``
package (whose import alone costs most of a second). Weights as initializers, not as
inputs, let ONNX Runtime pre-pack them: 3x faster than feeding them per call.

It also writes ``ge2e_encoder_int8.onnx``, the graph the analyses run: the same network
with the second and third LSTM layers as ONNX Runtime's ``DynamicQuantizeLSTM`` (their
input and recurrent weights int8, one symmetric scale per gate row, embedded: 1 MB; the
activations quantised per step). Those two layers are most of an analysis's work (the
recurrence is a matrix product per 10 ms step that float32 runs at the core's peak), and
int8 halves the encoder's time. The first layer stays float32: its input is linear mel
power, whose range one per-tensor activation scale cannot hold (quantised, embeddings fell
to a cosine of ~0.66). Everything else still reads the npz.

Rerun this whenever ``ge2e_encoder.npz`` is rewritten (the offsets change).

    python scripts/export_ge2e_onnx.py           # rewrites both assets
    python scripts/export_ge2e_onnx.py --check   # exit 1 if an asset is not what this writes

``tests/test_voice_encoder_onnx.py`` checks that the float32 graph's embeddings equal the
torch network's, and the int8 graph's are within a cosine of 0.999 of them.
"""

from __future__ import annotations

import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
from numpy.lib import format as npformat
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamface.voice.encoder import (  # noqa: E402
    EMBEDDING_DIM,
    HIDDEN,
    LAYERS,
    N_MELS,
    ONNX_FILE,
    ONNX_INT8_FILE,
    QUANTIZED_LAYERS,
    WEIGHTS_FILE,
    read_weights,
)

OUT = ROOT / "streamface" / "voice" / "assets" / ONNX_FILE
OUT_INT8 = OUT.parent / ONNX_INT8_FILE
WEIGHTS = OUT.parent / WEIGHTS_FILE
OPSET = 17
GATE_ORDER = (0, 3, 1, 2)
"""torch's gate blocks (input, forget, cell, output) in ONNX's order (input, output, forget, cell)."""


def npz_members(path: Path) -> dict[str, tuple[tuple[int, ...], int, int]]:
    """Each array of an uncompressed ``.npz``: (shape, byte offset of its data, byte length)."""
    out: dict[str, tuple[tuple[int, ...], int, int]] = {}
    with zipfile.ZipFile(path) as archive, path.open("rb") as f:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"{info.filename} is compressed; the graph needs raw bytes")
            f.seek(info.header_offset)
            local = f.read(30)
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            f.seek(info.header_offset + 30 + name_len + extra_len)
            version = npformat.read_magic(f)
            read = npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0
            shape, fortran, dtype = read(f)
            if fortran or dtype != np.dtype("<f4"):
                raise ValueError(f"{info.filename}: expected C-order little-endian float32")
            count = int(np.prod(shape))
            out[info.filename.removesuffix(".npy")] = (tuple(shape), f.tell(), 4 * count)
    return out


def quantized(weight: np.ndarray, name: str) -> list[TensorProto]:
    """A torch-layout LSTM weight ``[4H, in]`` as ``DynamicQuantizeLSTM`` takes it: int8
    ``[1, in, 4H]`` in ONNX's gate order, symmetric (zero point 0) with one scale per gate row."""
    rows = np.concatenate([np.split(weight, 4)[g] for g in GATE_ORDER]).astype(np.float64)
    scale = np.maximum(np.abs(rows).max(axis=1), 1e-12) / 127.0
    q = np.clip(np.rint(rows / scale[:, None]), -127, 127).astype(np.int8)
    return [
        helper.make_tensor(f"{name}_q", TensorProto.INT8, [1, rows.shape[1], rows.shape[0]], q.T.tobytes(), raw=True),
        helper.make_tensor(f"{name}_scale", TensorProto.FLOAT, [1, rows.shape[0]], scale.astype(np.float32).tolist()),
        helper.make_tensor(f"{name}_zero", TensorProto.INT8, [1, rows.shape[0]], np.zeros(rows.shape[0], np.int8).tobytes(), raw=True),
    ]


def build(int8: bool = False) -> onnx.ModelProto:
    """The encoder graph ``mels[B, T, 40] -> embedding[B, 256]`` over the npz's weights
    (``int8``: the layers in `QUANTIZED_LAYERS` int8, their weights embedded)."""
    f32 = TensorProto.FLOAT
    members = npz_members(WEIGHTS)
    initializers = []
    for name, (shape, offset, length) in sorted(members.items()):
        tensor = TensorProto(name=name, data_type=f32, dims=list(shape))
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", WEIGHTS_FILE), ("offset", str(offset)), ("length", str(length))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        initializers.append(tensor)
    initializers += [
        helper.make_tensor("axes0", TensorProto.INT64, [1], [0]),
        helper.make_tensor("axes1", TensorProto.INT64, [1], [1]),
        helper.make_tensor("tiny", f32, [], [1e-12]),
    ]
    nodes = [helper.make_node("Transpose", ["mels"], ["x0"], perm=[1, 0, 2])]  # [T, B, 40]

    def onnx_gates(source: str, target: str) -> None:
        # torch's gate blocks (input, forget, cell, output) -> ONNX's (input, output, forget, cell)
        parts = [f"{target}_{g}" for g in "ifco"]
        nodes.append(helper.make_node("Split", [source], parts, axis=0))  # equal parts
        i, f, c, o = parts
        nodes.append(helper.make_node("Concat", [i, o, f, c], [target], axis=0))

    state = read_weights(WEIGHTS) if int8 else {}
    for layer in range(LAYERS):
        quantize = int8 and layer in QUANTIZED_LAYERS
        if not quantize:
            for kind, torch_name in (("W", "weight_ih"), ("R", "weight_hh")):
                onnx_gates(f"lstm.{torch_name}_l{layer}", f"{kind}{layer}_2d")
                nodes.append(helper.make_node("Unsqueeze", [f"{kind}{layer}_2d", "axes0"], [f"{kind}{layer}"]))
        onnx_gates(f"lstm.bias_ih_l{layer}", f"Bi{layer}")
        onnx_gates(f"lstm.bias_hh_l{layer}", f"Bh{layer}")
        nodes.append(helper.make_node("Concat", [f"Bi{layer}", f"Bh{layer}"], [f"B{layer}_1d"], axis=0))
        nodes.append(helper.make_node("Unsqueeze", [f"B{layer}_1d", "axes0"], [f"B{layer}"]))
        last = layer == LAYERS - 1
        y = "" if last else f"y{layer}"
        outputs = [y, f"h{layer}"] if last else [y]
        if quantize:
            for kind, torch_name in (("W", "weight_ih"), ("R", "weight_hh")):
                initializers += quantized(state[f"lstm.{torch_name}_l{layer}"], f"{kind}{layer}")
            w, r = f"W{layer}", f"R{layer}"
            inputs = [f"x{layer}", f"{w}_q", f"{r}_q", f"B{layer}", "", "", "", ""]
            inputs += [f"{w}_scale", f"{w}_zero", f"{r}_scale", f"{r}_zero"]
            nodes.append(
                helper.make_node("DynamicQuantizeLSTM", inputs, outputs, domain="com.microsoft", hidden_size=HIDDEN)
            )
        else:
            nodes.append(
                helper.make_node(
                    "LSTM", [f"x{layer}", f"W{layer}", f"R{layer}", f"B{layer}"], outputs, hidden_size=HIDDEN
                )
            )
        if not last:  # Y is [T, 1, B, H]; the next layer takes [T, B, H]
            nodes.append(helper.make_node("Squeeze", [y, "axes1"], [f"x{layer + 1}"]))
    nodes += [
        helper.make_node("Squeeze", [f"h{LAYERS - 1}", "axes0"], ["hidden"]),  # [B, H]
        helper.make_node("Gemm", ["hidden", "linear.weight", "linear.bias"], ["linear"], transB=1),
        helper.make_node("Relu", ["linear"], ["raw"]),
        helper.make_node("ReduceL2", ["raw"], ["norm"], axes=[1], keepdims=1),
        helper.make_node("Max", ["norm", "tiny"], ["norm_safe"]),
        helper.make_node("Div", ["raw", "norm_safe"], ["embedding"]),
    ]
    inputs = [helper.make_tensor_value_info("mels", f32, ["batch", "frames", N_MELS])]
    outputs = [helper.make_tensor_value_info("embedding", f32, ["batch", EMBEDDING_DIM])]
    graph = helper.make_graph(nodes, "ge2e_speaker_encoder", inputs, outputs, initializers)
    opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid("com.microsoft", 1)] if int8 else [])
    model = helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="streamface scripts/export_ge2e_onnx.py",
    )
    model.ir_version = 8  # readable by ONNX Runtime 1.18 and later
    model.doc_string = (
        "GE2E speaker encoder (Wan et al. 2018) as defined by Resemblyzer. Its weights are "
        f"read from the arrays inside {WEIGHTS_FILE} (Apache-2.0, see LICENSE and NOTICE)"
        + (", the int8 layers' quantised from them." if int8 else ".")
    )
    return model


def main() -> int:
    stale = 0
    for out, int8 in ((OUT, False), (OUT_INT8, True)):
        data = build(int8).SerializeToString()
        if "--check" in sys.argv[1:]:
            same = out.is_file() and out.read_bytes() == data
            print(f"{out}: {'up to date' if same else 'differs from what this script writes'}")
            stale += not same
            continue
        out.write_bytes(data)
        onnx.checker.check_model(str(out))  # resolves the external data beside it
        print(f"wrote {out} ({len(data)} bytes)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
