// Device labels of the filesystem and block I/O metrics, named as cAdvisor names them: the mount
// source of a filesystem ("/dev/sda1", "overlay", "tmpfs") and "/dev/<name>" of a block device.
import { readFileSync, readlinkSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';

const MOUNTS_MAX_AGE_MS = 5_000;

// Linux dev_t encoding (new_encode_dev): minor's low 8 bits, major's 12, then minor's high 12.
export const devMajor = (dev: number) => (dev >>> 8) & 0xfff;
export const devMinor = (dev: number) => (dev & 0xff) | ((dev >>> 12) & 0xfff00);

/** major:minor → mount source, from mountinfo lines ("36 35 8:1 / / rw - ext4 /dev/sda1 rw"). */
export function parseMountSources(mountinfo: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    const devno = pre?.split(' ')[2];
    const source = post?.split(' ')[1];
    if (devno && source && !out.has(devno)) out.set(devno, source);
  }
  return out;
}

export class DeviceNames {
  private readonly blocks = new Map<string, string>();
  private mounts: { at: number; sources: Map<string, string> } | undefined;

  constructor(
    private readonly sysRoot = '/sys',
    private readonly mountinfoPath = '/proc/self/mountinfo',
  ) {}

  /** "/dev/sda" for 8:0 via /sys/dev/block/8:0 → ../../devices/.../sda; "8:0" when unknown. */
  block(major: number, minor: number): string {
    const key = `${major}:${minor}`;
    let name = this.blocks.get(key);
    if (name === undefined) {
      try {
        name = `/dev/${basename(readlinkSync(`${this.sysRoot}/dev/block/${key}`))}`;
      } catch {
        name = key;
      }
      if (this.blocks.size < 1024) this.blocks.set(key, name); // devices are few; bound it anyway
    }
    return name;
  }

  /** The mount source of the filesystem holding path (undefined when path does not exist). */
  async filesystemOf(path: string): Promise<string | undefined> {
    const st = await stat(path).catch(() => undefined); // no such device node: the name stays the major:minor pair
    if (!st) return undefined;
    const key = `${devMajor(st.dev)}:${devMinor(st.dev)}`;
    // One parse serves a whole ListPodSandboxMetrics (a container each); mounts change rarely.
    if (!this.mounts || Date.now() - this.mounts.at > MOUNTS_MAX_AGE_MS) {
      try {
        this.mounts = { at: Date.now(), sources: parseMountSources(readFileSync(this.mountinfoPath, 'utf8')) };
      } catch {
        return key;
      }
    }
    return this.mounts.sources.get(key) ?? key;
  }
}
