// Saving a stopped VM's state to a file and loading it into a QEMU started with -incoming defer
// (QEMU file migration over QMP). The file reaches QEMU as an inherited fd in an fd set
// (file:/dev/fdset/N): QEMU runs as a per-VM uid (qemu-privileges.ts) that could not open it itself.
// mapped-ram (QEMU >= 9.0) writes each RAM page at a fixed offset instead of streaming it: the file
// stays the size of guest RAM and loading it can map pages that were never written as holes.
import { setTimeout as sleep } from 'node:timers/promises';
import type { QmpClient } from './qmp.js';

/** The fd set QEMU finds the state file in (any number: one set per VM). */
export const STATE_FDSET = 1;
export const STATE_URI = `file:/dev/fdset/${STATE_FDSET}`;
/** Saving 128-512 MiB of guest RAM to local disk takes ~1 s under TCG; 120 s is a hang. */
const MIGRATE_TIMEOUT_MS = 120_000;

export class VmStateError extends Error {}

interface MigrateInfo {
  status?: string;
  'error-desc'?: string;
  ram?: { transferred?: number; total?: number };
}

interface MigrateCapability {
  capability: string;
  state: boolean;
}

/** Whether this QEMU offers mapped-ram (query-migrate-capabilities). */
export async function hasMappedRam(qmp: QmpClient): Promise<boolean> {
  const caps = (await qmp.execute('query-migrate-capabilities')) as MigrateCapability[];
  return caps.some((c) => c.capability === 'mapped-ram');
}

async function setMappedRam(qmp: QmpClient, on: boolean): Promise<void> {
  if (on) await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'mapped-ram', state: true }] });
}

async function waitMigration(qmp: QmpClient, what: string): Promise<MigrateInfo> {
  const deadline = Date.now() + MIGRATE_TIMEOUT_MS;
  for (;;) {
    const info = (await qmp.execute('query-migrate')) as MigrateInfo;
    if (info.status === 'completed') return info;
    if (info.status === 'failed' || info.status === 'cancelled') throw new VmStateError(`${what}: migration ${info.status}: ${info['error-desc'] ?? 'no reason given'}`);
    if (Date.now() > deadline) throw new VmStateError(`${what}: migration still ${info.status ?? 'not started'} after ${MIGRATE_TIMEOUT_MS / 1000} s`);
    await sleep(20);
  }
}

/**
 * Pauses the VM and writes its whole state to the file QEMU holds in fd set STATE_FDSET. The VM stays
 * paused afterwards (the caller quits it). Returns the bytes QEMU reports for RAM.
 */
export async function saveVmState(qmp: QmpClient, o: { mappedRam: boolean }): Promise<{ ramBytes: number }> {
  await qmp.execute('stop');
  await setMappedRam(qmp, o.mappedRam);
  await qmp.execute('migrate', { uri: STATE_URI });
  const info = await waitMigration(qmp, 'saving the VM state');
  return { ramBytes: info.ram?.total ?? 0 };
}

/** Loads the state (QEMU started with -incoming defer and the file in STATE_FDSET) and resumes the guest. */
export async function loadVmState(qmp: QmpClient, o: { mappedRam: boolean }): Promise<void> {
  await setMappedRam(qmp, o.mappedRam);
  await qmp.execute('migrate-incoming', { uri: STATE_URI });
  await waitMigration(qmp, 'loading the VM state');
  await qmp.execute('cont');
}

/** A state file a VM is booted to be saved into ('save') or restored from ('restore'). */
export interface VmStateFile {
  mode: 'save' | 'restore';
  path: string;
  /** The NIC MAC the saved guest has (virtio-net state travels with it). */
  mac: string;
  mappedRam: boolean;
}
