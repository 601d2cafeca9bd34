// Usage: node predict.js MODEL.onnx TEXTS.json -> prints {"labels": [...], "probabilities": [[...]]}
const fs = require("fs");
const ort = require("onnxruntime-node");

async function main() {
  const [model, textsFile] = process.argv.slice(2);
  const texts = JSON.parse(fs.readFileSync(textsFile, "utf-8"));
  const session = await ort.InferenceSession.create(model);
  const out = await session.run({ text: new ort.Tensor("string", texts, [texts.length]) });
  const width = out.probabilities.dims[1];
  const proba = Array.from(out.probabilities.data);
  const rows = texts.map((_, i) => proba.slice(i * width, (i + 1) * width));
  console.log(JSON.stringify({ labels: Array.from(out.label.data), probabilities: rows }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
