import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { OciSpec } from '../oci/spec-types.js';
import { applyCdiEdits } from './apply.js';
import { CdiRegistry } from './registry.js';
import { CdiError, parseCdiSpec, parseQualifiedName } from './spec-file.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'cdi-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const YAML_SPEC = `cdiVersion: "0.6.0"
kind: example.com/gpu
containerEdits:
  env: ["EXAMPLE_DRIVER=1"]
devices:
  - name: gpu0
    containerEdits:
      env: ["EXAMPLE_VISIBLE=0"]
      deviceNodes:
        - path: /dev/example0
          hostPath: /dev/null
          permissions: rw
      mounts:
        - hostPath: /usr/lib/example
          containerPath: /usr/lib/example
          options: [ro, nosuid]
      hooks:
        - hookName: createContainer
          path: /usr/bin/example-hook
          args: [example-hook, setup]
      additionalGids: [44]
  - name: gpu1
    containerEdits:
      env: ["EXAMPLE_VISIBLE=1"]
`;

function baseSpec(): OciSpec {
  return {
    ociVersion: '1.0.2',
    process: { user: { uid: 0, gid: 0 }, args: ['sh'], env: ['PATH=/bin', 'EXAMPLE_VISIBLE=x'], cwd: '/' },
    root: { path: '/r' },
    mounts: [{ destination: '/usr/lib/example', type: 'tmpfs', source: 'tmpfs' }],
    linux: { namespaces: [], devices: [], resources: { devices: [{ allow: false, access: 'rwm' }] } },
  };
}

describe('CDI spec files', () => {
  it('parse YAML and JSON; refuse what the spec forbids with the file and field named', () => {
    expect(parseCdiSpec(YAML_SPEC, '/etc/cdi/x.yaml').devices.map((d) => d.name)).toEqual(['gpu0', 'gpu1']);
    expect(parseCdiSpec(JSON.stringify({ cdiVersion: '0.3.0', kind: 'a.b/c', devices: [{ name: 'd', containerEdits: {} }] }), 'x.json').kind).toBe('a.b/c');
    expect(() => parseCdiSpec('cdiVersion: "0.6.0"\nkind: nokind\ndevices: [{name: d, containerEdits: {}}]', 'f.yaml')).toThrow(/f.yaml: kind "nokind" is not "vendor.com\/class"/);
    expect(() => parseCdiSpec('cdiVersion: "0.6.0"\nkind: a.b/c\ndevices: [{name: d, containerEdits: {deviceNodes: [{path: rel}]}}]', 'f.yaml')).toThrow(/devices.0.containerEdits.deviceNodes.0.path: must be an absolute path/);
    expect(() => parseCdiSpec('cdiVersion: "0.2.0"\nkind: a.b/c\ndevices: []', 'f.yaml')).toThrow(CdiError);
    // An alias bomb is cut off by the parser's alias budget instead of expanding.
    const bomb = 'a: &a [x,x,x,x,x,x,x,x,x,x]\n' + Array.from({ length: 20 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill('*' + String.fromCharCode(97 + i)).join(',')}]`).join('\n');
    expect(() => parseCdiSpec(bomb, 'bomb.yaml')).toThrow(CdiError);
  });

  it('qualified names', () => {
    expect(parseQualifiedName('nvidia.com/gpu=0')).toEqual({ kind: 'nvidia.com/gpu', device: '0' });
    expect(parseQualifiedName('nvidia.com/gpu=all')).toBeDefined();
    for (const bad of ['gpu0', 'nvidia.com/gpu', 'a/b/c=d', 'nvidia.com/gpu=-x']) expect(parseQualifiedName(bad)).toBeUndefined();
  });
});

describe('CdiRegistry', () => {
  it('resolves devices with their file-wide edits once, later dirs win, conflicts and unknowns fail', () => {
    const etc = tmp();
    const run = tmp();
    writeFileSync(join(etc, 'example.yaml'), YAML_SPEC);
    writeFileSync(join(etc, 'broken.json'), '{');
    const reg = new CdiRegistry([etc, run]);
    const r = reg.resolve(['example.com/gpu=gpu0', 'example.com/gpu=gpu1']);
    expect(r.edits.map((e) => e.env)).toEqual([['EXAMPLE_DRIVER=1'], ['EXAMPLE_VISIBLE=0'], ['EXAMPLE_VISIBLE=1']]);
    expect(() => reg.resolve(['example.com/gpu=gpu9'])).toThrow(/"example.com\/gpu=gpu9" is not defined in .*unreadable spec files: .*broken.json/);
    expect(() => reg.resolve(['gpu0'])).toThrow(/not a qualified name/);

    writeFileSync(join(run, 'override.json'), JSON.stringify({ cdiVersion: '0.5.0', kind: 'example.com/gpu', devices: [{ name: 'gpu1', containerEdits: { env: ['FROM_RUN=1'] } }] }));
    expect(reg.resolve(['example.com/gpu=gpu1']).edits.at(-1)!.env).toEqual(['FROM_RUN=1']);

    writeFileSync(join(run, 'twin.json'), JSON.stringify({ cdiVersion: '0.5.0', kind: 'example.com/gpu', devices: [{ name: 'gpu1', containerEdits: {} }] }));
    expect(() => reg.resolve(['example.com/gpu=gpu1'])).toThrow(/defined by both/);
  });

  it('a missing dir is no error', () => {
    expect(() => new CdiRegistry([join(tmp(), 'absent')]).resolve(['a.b/c=d'])).toThrow(/is not defined/);
  });
});

describe('applyCdiEdits', () => {
  it('env replaces by name, device node from the host node with a cgroup rule, mount replaced, hook and gid added', () => {
    const etc = tmp();
    mkdirSync(etc, { recursive: true });
    writeFileSync(join(etc, 'example.yaml'), YAML_SPEC);
    const spec = baseSpec();
    applyCdiEdits(spec, new CdiRegistry([etc]).resolve(['example.com/gpu=gpu0']).edits);
    expect(spec.process.env).toEqual(['PATH=/bin', 'EXAMPLE_DRIVER=1', 'EXAMPLE_VISIBLE=0']);
    expect(spec.linux.devices).toEqual([{ type: 'c', path: '/dev/example0', major: 1, minor: 3, fileMode: expect.any(Number) }]);
    expect(spec.linux.resources!.devices).toEqual([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }]);
    expect(spec.mounts).toEqual([{ destination: '/usr/lib/example', type: 'bind', source: '/usr/lib/example', options: ['bind', 'ro', 'nosuid'] }]);
    expect(spec.hooks).toEqual({ createContainer: [{ path: '/usr/bin/example-hook', args: ['example-hook', 'setup'] }] });
    expect(spec.process.user.additionalGids).toEqual([44]);
  });

  it('a device node whose host node is missing fails the container with the path named', () => {
    const spec = baseSpec();
    expect(() => applyCdiEdits(spec, [{ deviceNodes: [{ path: '/dev/nope-cdi-test' }] }])).toThrow(/CDI device node \/dev\/nope-cdi-test: ENOENT/);
  });
});
