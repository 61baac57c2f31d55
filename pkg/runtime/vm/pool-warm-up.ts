// A VM that goes into the warm pool first runs a throw-away container in its guest (the agent's
// warm_up, pkg/agent/warm-up.ts): under TCG a pod's first container start in a fresh VM runs on
// code translated for the first time (the guest's create + start took 1028 ms for a VM's first
// container, 436 ms for its third, 2026-12-05). The pool pays that while it waits; a failure only
// costs the pod that speed-up, so it is logged and the VM kept.
import type { Logger } from 'pino';
import { AgentFeature } from '../../vmchannel/protocol.js';
import type { StartedVm } from './snapshot-start.js';

/** A busy TCG guest ran it in ~1-2 s; far beyond that something else is wrong, and the VM still serves. */
const WARM_UP_TIMEOUT_MS = 60_000;

export async function warmUpPooled<T extends Pick<StartedVm, 'vm'>>(b: T, log: Logger): Promise<T> {
  if (!b.vm.agent.supports(AgentFeature.WarmUp)) return b;
  const t0 = performance.now();
  try {
    await b.vm.agent.call('warm_up', {}, { timeoutMs: WARM_UP_TIMEOUT_MS });
    log.debug({ vmPid: b.vm.pid, warmUpMs: Math.round(performance.now() - t0) }, 'pool VM warmed up');
  } catch (e) {
    log.warn({ vmPid: b.vm.pid, err: (e as Error).message }, 'pool VM warm-up failed: kept without it');
  }
  return b;
}
