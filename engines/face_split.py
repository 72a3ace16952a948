"""A per-frame ONNX graph split into what depends on the face alone and the rest.

A part graph (``prepared, params, anim -> patch``, `FaceRenderer.part`) spends most of its
nodes on the face parameters: the eye patch's graph at 256 px has ~930 nodes that read
only ``params`` (the face's geometry, shapes, the fringe over the eyes) and ~190 that read
the animation. A settled face draws many patches of the same parameters (one per new
cell of `face.sprites`), so those ~930 nodes give the same tensors every time.

`split_graph` cuts such a graph in two, node for node:

* ``face``: ``params -> the face tensors`` (the outputs of face-only nodes that other
  nodes read);
* ``frame``: ``prepared, anim, the face tensors (and params, if a node reads it) -> the
  graph's outputs``.

Every node keeps its inputs, attributes and order, so ``frame(face(params))`` runs the
very same operations as the whole graph; the engine checks it (tests/test_engine_parts.py)
to give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx
from onnx import helper


@dataclass(frozen=True)
class SplitGraph:
    """The two halves of a split graph (serialised models) and the tensors between them.

    Attributes:
        face: ``static inputs -> face tensors``.
        frame: ``other inputs + face tensors -> the graph's outputs``.
        face_tensors: Names of the tensors ``face`` outputs and ``frame`` reads, in order.
    """

    face: bytes
    frame: bytes
    face_tensors: tuple[str, ...]


def split_graph(model_bytes: bytes, static: str = "params") -> SplitGraph | None:
    """Split a graph at the nodes that read only ``static`` (and constants).

    Returns:
        The halves, or None when no node reads ``static`` alone (nothing to gain).
    """
    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    if static not in {i.name for i in graph.input}:
        return None
    # Which graph inputs each tensor depends on (initialisers and constants: none).
    deps: dict[str, frozenset[str]] = {i.name: frozenset([i.name]) for i in graph.input}
    for init in graph.initializer:
        deps[init.name] = frozenset()
    face_nodes: list[onnx.NodeProto] = []
    frame_nodes: list[onnx.NodeProto] = []
    constants: list[onnx.NodeProto] = []
    face_outputs: set[str] = set()
    for node in graph.node:
        dep = frozenset().union(*(deps.get(name, frozenset()) for name in node.input if name))
        for name in node.output:
            deps[name] = dep
        if not dep:
            constants.append(node)  # both halves may read it; the unused copies are dropped
        elif dep == {static}:
            face_nodes.append(node)
            face_outputs.update(node.output)
        else:
            frame_nodes.append(node)
    if not face_nodes:
        return None
    outputs = {o.name for o in graph.output}
    crossing: list[str] = []
    for node in frame_nodes:
        for name in node.input:
            if name in face_outputs and name not in crossing:
                crossing.append(name)
    crossing += [name for name in sorted(outputs & face_outputs) if name not in crossing]
    inferred = onnx.shape_inference.infer_shapes(model).graph
    types = {v.name: v for v in inferred.value_info}
    missing = [name for name in crossing if name not in types]
    if missing:  # no type known for a tensor between the halves: leave the graph whole
        return None
    reads_static = any(static in node.input for node in frame_nodes)
    face = helper.make_graph(
        constants + face_nodes,
        f"{graph.name}_face",
        [i for i in graph.input if i.name == static],
        [types[name] for name in crossing],
        initializer=list(graph.initializer),
    )
    frame = helper.make_graph(
        constants + frame_nodes,
        f"{graph.name}_frame",
        [i for i in graph.input if i.name != static or reads_static] + [types[name] for name in crossing],
        list(graph.output),
        initializer=list(graph.initializer),
    )

    def save(g: onnx.GraphProto) -> bytes:
        made = helper.make_model(g, opset_imports=list(model.opset_import), ir_version=model.ir_version)
        return bytes(made.SerializeToString())

    return SplitGraph(save(face), save(frame), tuple(crossing))
