// The sharp side of bench/images.py. Reads one JSON command per stdin line, answers one JSON line.
//   {"op": "versions"}
//   {"op": "time", "task": "resize|jpeg|webp|avif", "tier": "fast|thorough", "files": [...], "out": DIR}
//       -> {"ms": [per-file milliseconds...], "bytes": [...], "call": "what sharp ran"}
//   {"op": "encode", "file": F, "format": "jpeg|webp|avif", "tier": "fast|thorough", "quality": Q,
//    "out": PATH} -> {"bytes": N}   (tier defaults to fast)
//   {"op": "rss"} -> {"max_rss_kb": N}
// Tiers match mediaforge's `effort`: fast is sharp's defaults; thorough is sharp's own slower,
// smaller settings for the same encoder (mozjpeg, WebP effort 6 + smart deblocking, AVIF effort 6).
'use strict';
const path = require('path');
const readline = require('readline');
const sharp = require('sharp');

sharp.cache(false);

const RESIZE_WIDTH = 256;
const QUALITY = {jpeg: 80, webp: 80, avif: 50};
const TIERS = {
  fast: {jpeg: {}, webp: {}, avif: {}},
  thorough: {jpeg: {mozjpeg: true}, webp: {effort: 6, smartDeblock: true}, avif: {effort: 6}},
};

function settings(format, tier, quality) {
  const options = TIERS[tier ?? 'fast'];
  if (!options) throw new Error(`unknown tier ${tier}`);
  if (!(format in options)) throw new Error(`unknown format ${format}`);
  return {quality: quality ?? QUALITY[format], ...options[format]};
}

function describe(format, options, resize) {
  const fields = Object.entries(options).map(([key, value]) => `${key}: ${value}`).join(', ');
  return `${resize ? `resize(${RESIZE_WIDTH}).` : ''}${format}({${fields}})`;
}

// [the sharp instance, a description of the call] for one task at one tier.
function pipeline(file, task, tier, quality) {
  const resize = task === 'resize';
  const format = resize ? 'jpeg' : task;
  const options = settings(format, tier, quality);
  let image = sharp(file);
  if (resize) image = image.resize(RESIZE_WIDTH);
  return [image[format](options), describe(format, options, resize)];
}

async function handle(command) {
  switch (command.op) {
    case 'versions': return {...sharp.versions, node: process.version};
    case 'rss': return {max_rss_kb: process.resourceUsage().maxRSS};
    case 'encode': {
      const [image] = pipeline(command.file, command.format, command.tier, command.quality);
      const info = await image.toFile(command.out);
      return {bytes: info.size};
    }
    case 'time': {
      const ms = [];
      const bytes = [];
      let call = '';
      for (const file of command.files) {
        const out = path.join(command.out, `sharp-${command.task}-${command.tier}-${path.basename(file)}`);
        const started = process.hrtime.bigint();
        const [image, description] = pipeline(file, command.task, command.tier);
        const info = await image.toFile(out);
        ms.push(Number(process.hrtime.bigint() - started) / 1e6);
        bytes.push(info.size);
        call = description;
      }
      return {ms, bytes, call};
    }
    default: throw new Error(`unknown op ${command.op}`);
  }
}

const lines = readline.createInterface({input: process.stdin});
lines.on('line', async (line) => {
  try {
    process.stdout.write(JSON.stringify(await handle(JSON.parse(line))) + '\n');
  } catch (error) {
    process.stdout.write(JSON.stringify({error: String(error)}) + '\n');
  }
});
