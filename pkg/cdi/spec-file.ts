// One CDI spec file (Container Device Interface, cdiVersion 0.3.0 – 0.8.0): a vendor/class "kind",
// its devices, and the container edits each device (and the file as a whole) brings. Files are
// written by root (device plugins, nvidia-ctk, DRA drivers) into /etc/cdi and /var/run/cdi; they are
// still parsed strictly and bounded, since a bad file must fail the one container that asks for its
// device with a clear message, not the daemon.
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export class CdiError extends Error {
  constructor(message: string, readonly reason: 'InvalidSpec' | 'Unresolvable' | 'Unsupported') {
    super(message);
    this.name = 'CdiError';
  }
}

/** A spec file larger than this is refused: the biggest real ones (GPU drivers) are a few 100 KiB. */
export const MAX_SPEC_BYTES = 1 << 20;

// Name rules of the CDI specification (pkg/parser of the reference implementation).
const VENDOR = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const CLASS = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
const DEVICE = /^[A-Za-z0-9](?:[A-Za-z0-9_.:-]*[A-Za-z0-9])?$/;

export const HOOK_NAMES = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

const absPath = z.string().min(1).max(4096).refine((p) => p.startsWith('/'), 'must be an absolute path');
const u32 = z.number().int().min(0).max(2 ** 32 - 1);

const deviceNode = z
  .object({
    path: absPath,
    hostPath: absPath.optional(),
    type: z.enum(['b', 'c', 'u', 'p']).optional(),
    major: z.number().int().min(0).optional(),
    minor: z.number().int().min(0).optional(),
    fileMode: z.number().int().min(0).max(0o7777).optional(),
    permissions: z.string().regex(/^[rwm]{0,3}$/, 'a combination of r, w and m').optional(),
    uid: u32.optional(),
    gid: u32.optional(),
  })
  .passthrough();

const mount = z
  .object({
    hostPath: z.string().min(1).max(4096),
    containerPath: absPath,
    options: z.array(z.string().max(256)).max(64).optional(),
    type: z.string().max(64).optional(),
  })
  .passthrough();

const hook = z
  .object({
    hookName: z.enum(HOOK_NAMES),
    path: absPath,
    args: z.array(z.string().max(4096)).max(256).optional(),
    env: z.array(z.string().max(32768)).max(256).optional(),
    timeout: z.number().int().min(0).optional(),
  })
  .passthrough();

const edits = z
  .object({
    env: z.array(z.string().regex(/^[^=]+=/, 'NAME=value').max(32768)).max(1024).optional(),
    deviceNodes: z.array(deviceNode).max(1024).optional(),
    mounts: z.array(mount).max(1024).optional(),
    hooks: z.array(hook).max(256).optional(),
    additionalGids: z.array(u32).max(256).optional(),
    intelRdt: z.unknown().optional(),
  })
  .passthrough();

const specSchema = z
  .object({
    cdiVersion: z.string().regex(/^0\.(?:[3-9]|[1-9]\d)\.\d+$/, 'a CDI version 0.3.0 or later'),
    kind: z.string().max(256),
    annotations: z.record(z.string()).optional(),
    devices: z
      .array(
        z
          .object({
            name: z.string().max(256).regex(DEVICE, 'a CDI device name'),
            annotations: z.record(z.string()).optional(),
            containerEdits: edits,
          })
          .passthrough(),
      )
      .min(1)
      .max(4096),
    containerEdits: edits.optional(),
  })
  .passthrough();

export type ContainerEdits = z.infer<typeof edits>;
export type CdiSpec = z.infer<typeof specSchema>;

/** Parses one spec file's text (JSON or YAML by extension); throws CdiError('InvalidSpec'). */
export function parseCdiSpec(text: string, file: string): CdiSpec {
  if (Buffer.byteLength(text) > MAX_SPEC_BYTES) throw new CdiError(`${file}: larger than ${MAX_SPEC_BYTES} bytes`, 'InvalidSpec');
  let raw: unknown;
  try {
    // maxAliasCount bounds alias expansion (a "billion laughs" file); JSON is YAML's subset.
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new CdiError(`${file}: ${(e as Error).message.split('\n')[0]}`, 'InvalidSpec');
  }
  const r = specSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new CdiError(`${file}: ${i.path.join('.') || '(root)'}: ${i.message}`, 'InvalidSpec');
  }
  const [vendor, cls, ...rest] = r.data.kind.split('/');
  if (rest.length > 0 || !vendor || !cls || !VENDOR.test(vendor) || !CLASS.test(cls)) {
    throw new CdiError(`${file}: kind "${r.data.kind.slice(0, 64)}" is not "vendor.com/class"`, 'InvalidSpec');
  }
  if (r.data.containerEdits?.intelRdt !== undefined || r.data.devices.some((d) => d.containerEdits.intelRdt !== undefined)) {
    throw new CdiError(`${file}: intelRdt edits are not supported`, 'InvalidSpec');
  }
  return r.data;
}

/** "vendor.com/class=name" → its parts, or undefined if it is no qualified CDI device name. */
export function parseQualifiedName(name: string): { kind: string; device: string } | undefined {
  const m = /^([^/=]+)\/([^/=]+)=(.+)$/.exec(name);
  if (!m || !VENDOR.test(m[1]!) || !CLASS.test(m[2]!) || !DEVICE.test(m[3]!)) return undefined;
  return { kind: `${m[1]}/${m[2]}`, device: m[3]! };
}
