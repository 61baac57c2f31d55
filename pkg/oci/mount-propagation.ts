// Reads /proc/self/mountinfo to find how the host mount holding a path propagates. containerd
// refuses HOST_TO_CONTAINER on a private source and BIDIRECTIONAL on a non-shared one, because
// the container would silently not see (or not share) later mounts; we do the same.
import { readFileSync } from 'node:fs';

export interface MountInfoEntry {
  mountPoint: string;
  shared: boolean;
  slave: boolean;
}

function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (fields.length < 7 || sep < 6) continue;
    const optional = fields.slice(6, sep);
    out.push({
      mountPoint: unescapeMountPath(fields[4]!),
      shared: optional.some((f) => f.startsWith('shared:')),
      slave: optional.some((f) => f.startsWith('master:')),
    });
  }
  return out;
}

/** The last-mounted entry whose mount point contains path (path must be already resolved). */
export function mountOf(path: string, entries: MountInfoEntry[]): MountInfoEntry | undefined {
  let best: MountInfoEntry | undefined;
  for (const e of entries) {
    const mp = e.mountPoint;
    const contains = mp === '/' || path === mp || path.startsWith(mp.endsWith('/') ? mp : `${mp}/`);
    if (!contains) continue;
    // Later lines are mounted later (on top); a longer mount point is more specific.
    if (!best || mp.length >= best.mountPoint.length) best = e;
  }
  return best;
}

export type MountInfoReader = () => MountInfoEntry[];

export const readSelfMountInfo: MountInfoReader = () => parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'));
