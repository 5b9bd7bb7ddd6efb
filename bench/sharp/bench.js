// The sharp side of bench/images.py. Reads one JSON command per stdin line, answers one JSON line.
//   {"op": "versions"}
//   {"op": "time", "task": "resize|jpeg|jpeg-mozjpeg|webp|avif", "files": [...], "out": DIR}
//       -> {"ms": [per-file milliseconds...], "bytes": [...]}
//   {"op": "encode", "file": F, "format": "jpeg|jpeg-mozjpeg|webp|avif", "quality": Q, "out": PATH}
//       -> {"bytes": N}
//   {"op": "rss"} -> {"max_rss_kb": N}
'use strict';
const path = require('path');
const readline = require('readline');
const sharp = require('sharp');

sharp.cache(false);

const RESIZE_WIDTH = 256;

function pipeline(file, task, quality) {
  const image = sharp(file);
  switch (task) {
    case 'resize': return image.resize(RESIZE_WIDTH).jpeg({quality: 80});
    case 'jpeg': return image.jpeg({quality: quality ?? 80});
    case 'jpeg-mozjpeg': return image.jpeg({quality: quality ?? 80, mozjpeg: true});
    case 'webp': return image.webp({quality: quality ?? 80});
    case 'avif': return image.avif({quality: quality ?? 50});
    default: throw new Error(`unknown task ${task}`);
  }
}

async function handle(command) {
  switch (command.op) {
    case 'versions': return {...sharp.versions, node: process.version};
    case 'rss': return {max_rss_kb: process.resourceUsage().maxRSS};
    case 'encode': {
      const info = await pipeline(command.file, command.format, command.quality).toFile(command.out);
      return {bytes: info.size};
    }
    case 'time': {
      const ms = [];
      const bytes = [];
      for (const file of command.files) {
        const out = path.join(command.out, `sharp-${command.task}-${path.basename(file)}`);
        const started = process.hrtime.bigint();
        const info = await pipeline(file, command.task).toFile(out);
        ms.push(Number(process.hrtime.bigint() - started) / 1e6);
        bytes.push(info.size);
      }
      return {ms, bytes};
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
