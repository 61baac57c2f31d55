#!/usr/bin/env node
// Silent-catch check (e2e/run-all.sh step "layers"): an error dropped without a word is a bug
// waiting to be hidden. In pkg/ and cmd/ (tests excluded) every `.catch(() => <constant>)` must have
// a comment on its line or the line above saying why the error can be dropped, and every empty
// `catch {}` block must hold a comment. Dependency-free, like check-layers.mjs.
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceFiles } from './lib/source-files.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DROPPED = /\.catch\(\(\) => (undefined|\{\s*\}|null|false|true|\[\]|''|0)\)/;
const EMPTY_BLOCK = /catch(\s*\(\w+\))?\s*\{\s*\}/;
const OPEN_BLOCK = /catch(\s*\(\w+\))?\s*\{\s*$/;

const found = [];
for (const file of ['pkg', 'cmd'].flatMap((d) => sourceFiles(join(REPO, d)))) {
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    const commented = line.includes('//') || (lines[i - 1] ?? '').trim().startsWith('//');
    const silent =
      (DROPPED.test(line) && !commented) ||
      (EMPTY_BLOCK.test(line) && !line.includes('//')) ||
      (OPEN_BLOCK.test(line) && (lines[i + 1] ?? '').trim() === '}');
    if (silent) found.push(`${relative(REPO, file)}:${i + 1}: ${line.trim().slice(0, 120)}`);
  });
}
if (found.length) {
  console.error(`silent catches: ${found.length} error(s) dropped without a comment saying why:\n${found.join('\n')}`);
  process.exit(1);
}
console.log('silent catches: none');
