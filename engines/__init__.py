"""Generator engines: one interface, several backends (ONNX Runtime, torch, TensorRT).

See `engines.base.Engine` for the interface and `engines.select.load_engine` for the
`--engine auto|onnxruntime|torch|tensorrt` choice with fallback.
"""
