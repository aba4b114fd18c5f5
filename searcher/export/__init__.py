"""`searcher export`: the chosen ensemble as a verified ONNX artifact with its manifest."""
