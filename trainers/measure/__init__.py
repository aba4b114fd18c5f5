"""How fast an ensemble runs: latency tables in PyTorch and ONNX Runtime, and the ONNX graph both deploy."""
