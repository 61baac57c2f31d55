// AppArmor for containers, as containerd's CRI plugin does it:
// - on a host without AppArmor (Debian's kernels without the LSM, most CI machines) every profile
//   is accepted and none applied: there is nothing to apply it with, and critest's AppArmor specs
//   skip themselves there; Status says so (apparmorStatus).
// - on an AppArmor host (Ubuntu, SUSE), RuntimeDefault (and an unset profile) means our default
//   profile, loaded on first use; Localhost names a profile that must already be loaded (else the
//   container is refused, never started unconfined); Unconfined and privileged containers without a
//   profile run unconfined.
// The deprecated string field (apparmor_profile: "runtime/default", "localhost/<name>",
// "unconfined") is read when the typed field is absent.
import type * as cri from '../api/cri-types.js';
import { failedPrecondition, invalidArgument } from '../errors/errors.js';

export interface AppArmorHost {
  /** The kernel has AppArmor enabled (and we can load profiles). */
  enabled(): boolean;
  isLoaded(profile: string): boolean;
  /** Loads the runtime's default profile if needed; returns its name. */
  ensureDefault(): string;
}

export const NO_APPARMOR: AppArmorHost = {
  enabled: () => false,
  isLoaded: () => false,
  ensureDefault: () => {
    throw new Error('AppArmor is not enabled');
  },
};

type Wanted = { kind: 'default' } | { kind: 'unconfined' } | { kind: 'localhost'; name: string };

function wanted(sc: { apparmor?: cri.SecurityProfile__Output | null; apparmor_profile?: string } | null | undefined): Wanted | undefined {
  const p = sc?.apparmor;
  if (p) {
    switch (p.profile_type) {
      case 'RuntimeDefault':
        return { kind: 'default' };
      case 'Unconfined':
        return { kind: 'unconfined' };
      case 'Localhost':
        if (!p.localhost_ref) throw invalidArgument('apparmor: profile_type Localhost without localhost_ref');
        return { kind: 'localhost', name: p.localhost_ref };
      default:
        throw invalidArgument(`apparmor: unknown profile_type ${String(p.profile_type)}`);
    }
  }
  const legacy = sc?.apparmor_profile ?? '';
  if (legacy === '') return undefined;
  if (legacy === 'runtime/default') return { kind: 'default' };
  if (legacy === 'unconfined') return { kind: 'unconfined' };
  if (legacy.startsWith('localhost/') && legacy.length > 'localhost/'.length) return { kind: 'localhost', name: legacy.slice('localhost/'.length) };
  throw invalidArgument(`apparmor_profile "${legacy.slice(0, 128)}": want runtime/default, unconfined or localhost/<profile>`);
}

/** The process.apparmorProfile for a container, or undefined for none (unconfined or no AppArmor). */
export function apparmorProfileFor(
  sc: { apparmor?: cri.SecurityProfile__Output | null; apparmor_profile?: string; privileged?: boolean } | null | undefined,
  host: AppArmorHost,
): string | undefined {
  const w = wanted(sc); // malformed requests are refused on every host
  if (!host.enabled()) return undefined;
  if (!w) return sc?.privileged ? undefined : host.ensureDefault();
  switch (w.kind) {
    case 'unconfined':
      return undefined;
    case 'default':
      return host.ensureDefault();
    case 'localhost':
      if (!/^[\w.\-/:@+]{1,255}$/.test(w.name)) throw invalidArgument(`apparmor: localhost profile name "${w.name.slice(0, 64)}" is not a profile name`);
      if (!host.isLoaded(w.name)) throw failedPrecondition(`apparmor profile "${w.name}" is not loaded on this node (apparmor_parser it first)`);
      return w.name;
  }
}

/**
 * A micro-VM pod's containers run under the guest's kernel, which host profiles can't confine:
 * RuntimeDefault and unset mean the VM boundary (no host profile), Localhost is refused.
 */
export function vmAppArmor(host: AppArmorHost): AppArmorHost {
  return {
    enabled: () => host.enabled(),
    isLoaded: () => {
      throw failedPrecondition('apparmor: a Localhost profile of the node cannot confine a container of a micro-VM pod (it runs under the guest kernel)');
    },
    ensureDefault: () => '',
  };
}
