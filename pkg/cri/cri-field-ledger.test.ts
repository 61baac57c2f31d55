// Walks every field reachable from the RuntimeService and ImageService requests of the vendored
// CRI proto. Each must be read by the code under pkg/ (named as `.field`, `field:` or 'field' in a
// non-test source) or be in CRI_FIELD_LEDGER with what happens instead. A mention is a coarse
// test of "read" (a common name like `name` is mentioned for other reasons), but a field nobody
// ever names — a new CRI field after re-vendoring — fails here instead of being dropped silently.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { CRI_FIELD_LEDGER } from './cri-field-ledger.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

function requestFields(): string[] {
  const root = new protobuf.Root().loadSync(join(REPO, 'api/cri/api.proto'), { keepCase: true });
  root.resolveAll();
  const seen = new Set<string>();
  const out: string[] = [];
  const walk = (t: protobuf.Type): void => {
    if (seen.has(t.fullName)) return;
    seen.add(t.fullName);
    for (const f of t.fieldsArray) {
      out.push(`${t.name}.${f.name}`);
      if (f.resolvedType instanceof protobuf.Type) walk(f.resolvedType);
    }
  };
  for (const s of ['RuntimeService', 'ImageService']) for (const m of root.lookupService(`runtime.v1.${s}`).methodsArray) walk(m.resolvedRequestType!);
  return out;
}

function sources(dir: string): string {
  let text = '';
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) {
      if (n !== 'api') text += sources(p);
    } else if (p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('cri-field-ledger.ts')) {
      text += readFileSync(p, 'utf8').replace(/^\s*\/\/.*$/gm, '') + '\n';
    }
  }
  return text;
}

describe('CRI request fields: each read by the code or accounted for', () => {
  const fields = requestFields();
  const src = sources(join(REPO, 'pkg'));

  it('walks the whole request tree', () => {
    expect(fields.length).toBeGreaterThan(200);
  });

  it('no field is silently dropped', () => {
    const unaccounted = fields.filter((f) => {
      const name = f.split('.')[1]!;
      return !(f in CRI_FIELD_LEDGER) && !new RegExp(`(\\.${name}\\b|\\b${name}\\??:|['"]${name}['"])`).test(src);
    });
    expect(unaccounted, 'honour these fields (or refuse them) and/or list them in pkg/cri/cri-field-ledger.ts').toEqual([]);
  });

  it('the ledger names only real fields, and README lists every refused one', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    for (const [f, t] of Object.entries(CRI_FIELD_LEDGER)) {
      expect(fields, `${f} in the ledger is not a CRI request field`).toContain(f);
      if (t.treatment === 'refused' || t.treatment === 'per-handler') expect(readme, `README.md should list ${f}`).toContain(f.split('.')[1]!);
    }
  });
});
