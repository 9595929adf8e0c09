# Run a fer-bench export without fer-bench: python run_exported.py MODEL.tflite|MODEL.onnx FACE.png
import json
import sys

import numpy as np
from PIL import Image

model, face = sys.argv[1], sys.argv[2]          # an exported model and a face crop (any size)
meta = json.load(open(model + ".json"))          # written beside the model by `fer-bench export`
size, channels = meta["input"]["size"], meta["input"]["channels"]
img = Image.open(face).convert("L" if meta["input"]["color"] == "gray" else "RGB").resize((size, size), Image.BICUBIC)
x = np.asarray(img, np.float32).reshape(1, size, size, -1)
x = np.repeat(x, channels // x.shape[-1], axis=-1)          # grey faces go into every input channel
x = {"none": x, "rescale": x / 255, "tf": x / 127.5 - 1}[meta["preprocessing"]["outside_model"]]
if model.endswith(".tflite"):
    import tensorflow as tf  # or: from ai_edge_litert.interpreter import Interpreter
    it = tf.lite.Interpreter(model_path=model)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    probs = it.get_tensor(it.get_output_details()[0]["index"])[0]
else:
    import onnxruntime as ort
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    probs = sess.run(None, {sess.get_inputs()[0].name: x})[0][0]
print(json.dumps({"label": meta["label_order"][int(probs.argmax())], "probs": [round(float(p), 4) for p in probs]}))
