// RPCs a VM restored from a snapshot needs before it takes a pod: every clone of one template resumes
// with the template's kernel CRNG state (two pods would read the same /dev/urandom bytes) and with its
// clock frozen at the moment the template was saved (minutes or days behind). The ioctls and
// clock_settime(2) are made by a static helper in the guest image (deploy/guest/clone-fixup.c).
import { run } from './exec-file.js';
import { AgentError, Code } from '../vmchannel/codec.js';
import type { Handlers } from './rpc.js';

export const CLONE_FIXUP = '/usr/libexec/bulkhead-clone-fixup';
/** The helper credits at most 512 bytes; fewer than 32 (256 bits) would not be a real reseed. */
const MIN_ENTROPY = 32;
const MAX_ENTROPY = 512;

export function cloneRpcs(fixup = CLONE_FIXUP): Handlers<'reseed_random' | 'set_guest_time'> {
  return {
    reseed_random: async (r) => {
      const n = r.entropy.length;
      if (n < MIN_ENTROPY || n > MAX_ENTROPY) throw new AgentError(Code.InvalidArgument, `entropy: ${n} bytes, want ${MIN_ENTROPY}..${MAX_ENTROPY}`);
      // set_time_unix_ns: the clock in the same helper run (one fork of this Node process, not two).
      const time = r.set_time_unix_ns !== '0' ? ['settime', checkedTime(r.set_time_unix_ns)] : [];
      await run(fixup, ['reseed', ...time], { input: Buffer.from(r.entropy) });
      return {};
    },
    set_guest_time: async (r) => {
      await run(fixup, ['settime', checkedTime(r.unix_ns)]);
      return {};
    },
  };
}

function checkedTime(unixNs: string): string {
  if (!/^[1-9]\d{0,18}$/.test(unixNs)) throw new AgentError(Code.InvalidArgument, `bad time ${unixNs}`);
  return unixNs;
}
