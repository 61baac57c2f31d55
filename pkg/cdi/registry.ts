// The CDI devices a node offers: every spec file of the configured dirs, read when a container asks
// for a device (CreateContainer with CDI_devices), so specs written by a device plugin a moment
// earlier are seen without a watch. Later dirs take precedence (the CDI default order is /etc/cdi,
// then /var/run/cdi); the same device defined twice in one dir is a conflict, as in the reference
// implementation, and fails only the container that asks for it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CdiError, MAX_SPEC_BYTES, parseCdiSpec, parseQualifiedName, type CdiSpec, type ContainerEdits } from './spec-file.js';

/** More files than this in one dir is not a node's CDI config; only the first (by name) are read. */
const MAX_FILES_PER_DIR = 512;

interface Entry {
  spec: CdiSpec;
  file: string;
  priority: number;
  edits: ContainerEdits;
  conflict?: string;
}

export interface ResolvedDevices {
  /** In request order: for each spec touched, its file-wide edits first (once), then the device's. */
  edits: ContainerEdits[];
  /** Spec files a device came from (for the log). */
  files: string[];
}

export class CdiRegistry {
  constructor(private readonly dirs: readonly string[]) {}

  /** Qualified names ("vendor.com/class=name") → the edits to apply; throws CdiError. */
  resolve(names: readonly string[]): ResolvedDevices {
    const { devices, broken } = this.scan();
    const edits: ContainerEdits[] = [];
    const files = new Set<string>();
    const specsApplied = new Set<CdiSpec>();
    for (const name of names) {
      if (!parseQualifiedName(name)) throw new CdiError(`CDI device "${name.slice(0, 128)}" is not a qualified name (vendor.com/class=device)`, 'Unresolvable');
      const e = devices.get(name);
      if (!e) {
        const hint = broken.length > 0 ? ` (unreadable spec files: ${broken.slice(0, 3).join('; ')})` : '';
        throw new CdiError(`CDI device "${name}" is not defined in ${this.dirs.join(', ')}${hint}`, 'Unresolvable');
      }
      if (e.conflict) throw new CdiError(`CDI device "${name}" is defined by both ${e.file} and ${e.conflict}`, 'Unresolvable');
      if (!specsApplied.has(e.spec)) {
        specsApplied.add(e.spec);
        if (e.spec.containerEdits) edits.push(e.spec.containerEdits);
      }
      edits.push(e.edits);
      files.add(e.file);
    }
    return { edits, files: [...files] };
  }

  private scan(): { devices: Map<string, Entry>; broken: string[] } {
    const devices = new Map<string, Entry>();
    const broken: string[] = [];
    this.dirs.forEach((dir, priority) => {
      let names: string[];
      try {
        names = readdirSync(dir).filter((n) => /\.(json|ya?ml)$/.test(n)).sort().slice(0, MAX_FILES_PER_DIR);
      } catch {
        return; // a missing dir is the usual case on nodes without devices
      }
      for (const n of names) {
        const file = join(dir, n);
        let spec: CdiSpec;
        try {
          if (statSync(file).size > MAX_SPEC_BYTES) throw new CdiError(`${file}: larger than ${MAX_SPEC_BYTES} bytes`, 'InvalidSpec');
          spec = parseCdiSpec(readFileSync(file, 'utf8'), file);
        } catch (e) {
          broken.push((e as Error).message);
          continue;
        }
        for (const d of spec.devices) {
          const qualified = `${spec.kind}=${d.name}`;
          const prev = devices.get(qualified);
          if (prev && prev.priority === priority) prev.conflict = file;
          else devices.set(qualified, { spec, file, priority, edits: d.containerEdits });
        }
      }
    });
    return { devices, broken };
  }
}
