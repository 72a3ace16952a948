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

Rerun this whenever ``ge2e_encoder.npz`` is rewritten (the offsets change).

    python scripts/export_ge2e_onnx.py           # rewrites the asset
    python scripts/export_ge2e_onnx.py --check   # exit 1 if the asset is not what this writes

``tests/test_voice_encoder_onnx.py`` checks that the graph's embeddings equal the torch
network's.
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
    WEIGHTS_FILE,
)

OUT = ROOT / "streamface" / "voice" / "assets" / ONNX_FILE
WEIGHTS = OUT.parent / WEIGHTS_FILE
OPSET = 17


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


def build() -> onnx.ModelProto:
    """The encoder graph ``mels[B, T, 40] -> embedding[B, 256]`` over the npz's weights."""
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

    for layer in range(LAYERS):
        for kind, torch_name in (("W", "weight_ih"), ("R", "weight_hh")):
            onnx_gates(f"lstm.{torch_name}_l{layer}", f"{kind}{layer}_2d")
            nodes.append(helper.make_node("Unsqueeze", [f"{kind}{layer}_2d", "axes0"], [f"{kind}{layer}"]))
        onnx_gates(f"lstm.bias_ih_l{layer}", f"Bi{layer}")
        onnx_gates(f"lstm.bias_hh_l{layer}", f"Bh{layer}")
        nodes.append(helper.make_node("Concat", [f"Bi{layer}", f"Bh{layer}"], [f"B{layer}_1d"], axis=0))
        nodes.append(helper.make_node("Unsqueeze", [f"B{layer}_1d", "axes0"], [f"B{layer}"]))
        last = layer == LAYERS - 1
        y = "" if last else f"y{layer}"
        nodes.append(
            helper.make_node(
                "LSTM",
                [f"x{layer}", f"W{layer}", f"R{layer}", f"B{layer}"],
                [y, f"h{layer}"] if last else [y],
                hidden_size=HIDDEN,
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
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="streamface scripts/export_ge2e_onnx.py",
    )
    model.ir_version = 8  # readable by ONNX Runtime 1.18 and later
    model.doc_string = (
        "GE2E speaker encoder (Wan et al. 2018) as defined by Resemblyzer. Its weights are "
        f"read from the arrays inside {WEIGHTS_FILE} (Apache-2.0, see LICENSE and NOTICE)."
    )
    return model


def main() -> int:
    data = build().SerializeToString()
    if "--check" in sys.argv[1:]:
        same = OUT.is_file() and OUT.read_bytes() == data
        print(f"{OUT}: {'up to date' if same else 'differs from what this script writes'}")
        return 0 if same else 1
    OUT.write_bytes(data)
    onnx.checker.check_model(str(OUT))  # resolves the external data beside it
    print(f"wrote {OUT} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
