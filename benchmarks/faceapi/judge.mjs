#!/usr/bin/env node
// Second independent face judge: @vladmandic/face-api (SSD MobileNet v1 detector,
// 68-point landmarks for alignment, ageGenderNet, faceExpressionNet and the 128-d
// faceRecognitionNet descriptor) on the tfjs WebAssembly backend.
// Everything - code, wasm binaries, model weights - comes from node_modules; nothing is
// fetched at run time.
//
// Usage: node judge.mjs IMAGE.png|DIR [...]
// Prints one JSON line per image on stdout:
//   {"path", "detected", "gender", "gender_probability", "age", "score",
//    "expression" (the top one), "expressions" {name: probability}, "descriptor" [128]}
// Logs go to stderr. Env: FACEAPI_BACKEND=wasm|cpu (default wasm),
// FACEAPI_MIN_CONFIDENCE (SSD threshold, default 0.5).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

// Keep stdout for results only: tfjs and face-api chat on console.log/info.
console.log = console.info = (...a) => console.error(...a);

const { PNG } = require('pngjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const tf = faceapi.tf;

function listImages(args) {
  const out = [];
  for (const arg of args) {
    if (fs.statSync(arg).isDirectory()) {
      for (const name of fs.readdirSync(arg).sort()) {
        if (name.toLowerCase().endsWith('.png')) out.push(path.join(arg, name));
      }
    } else {
      out.push(arg);
    }
  }
  return out;
}

function pngToTensor(file) {
  const png = PNG.sync.read(fs.readFileSync(file)); // always RGBA, 8-bit
  const { width, height, data } = png;
  const rgb = new Int32Array(width * height * 3);
  for (let i = 0, j = 0; i < data.length; i += 4, j += 3) {
    rgb[j] = data[i];
    rgb[j + 1] = data[i + 1];
    rgb[j + 2] = data[i + 2];
  }
  return tf.tensor3d(rgb, [height, width, 3], 'int32');
}

function topExpression(expressions) {
  let best = null;
  for (const [name, p] of Object.entries(expressions)) {
    if (typeof p === 'number' && (best === null || p > expressions[best])) best = name;
  }
  return best;
}

function roundAll(expressions) {
  const out = {};
  for (const [name, p] of Object.entries(expressions)) {
    if (typeof p === 'number') out[name] = Math.round(p * 1e4) / 1e4;
  }
  return out;
}

async function main() {
  const files = listImages(process.argv.slice(2));
  if (files.length === 0) {
    console.error('usage: node judge.mjs IMAGE.png|DIR [...]');
    process.exit(2);
  }
  const backend = process.env.FACEAPI_BACKEND || 'wasm';
  await tf.setBackend(backend);
  await tf.ready();
  const modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
  await faceapi.nets.ageGenderNet.loadFromDisk(modelDir);
  await faceapi.nets.faceExpressionNet.loadFromDisk(modelDir);
  await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);
  const options = new faceapi.SsdMobilenetv1Options({
    minConfidence: Number(process.env.FACEAPI_MIN_CONFIDENCE || 0.5),
  });
  console.error(`face-api ${faceapi.version} tfjs ${tf.version_core} backend ${tf.getBackend()}`);

  for (const file of files) {
    const input = pngToTensor(file);
    let faces = [];
    try {
      faces = await faceapi
        .detectAllFaces(input, options)
        .withFaceLandmarks()
        .withFaceExpressions()
        .withAgeAndGender()
        .withFaceDescriptors();
    } finally {
      input.dispose();
    }
    const best = faces.reduce((a, b) => (b.detection.score > (a ? a.detection.score : -1) ? b : a), null);
    const row = best
      ? {
          path: file,
          detected: true,
          gender: best.gender,
          gender_probability: best.genderProbability,
          age: best.age,
          score: best.detection.score,
          expression: topExpression(best.expressions),
          expressions: roundAll(best.expressions),
          descriptor: Array.from(best.descriptor, (v) => Math.round(v * 1e5) / 1e5),
        }
      : {
          path: file,
          detected: false,
          gender: null,
          gender_probability: null,
          age: null,
          score: null,
          expression: null,
          expressions: null,
          descriptor: null,
        };
    process.stdout.write(`${JSON.stringify(row)}\n`);
  }
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
