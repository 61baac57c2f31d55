// Feeds CRI Status: NetworkReady comes from the CNI runtime's view of its config and plugins.
import type { StatusSource } from '../status/status-source.js';
import type { CniNetwork } from './cni.js';

export function cniStatusSource(network: CniNetwork): StatusSource {
  return {
    async conditions() {
      return [network.statusCondition()];
    },
  };
}
