// What a subsystem (runtime handlers, the network, the VM handlers...) reports to the CRI Status RPC.
// A contract below the CRI layer: the subsystems implement it without importing the CRI handlers.
import type * as cri from '../api/cri-types.js';

export interface Condition {
  type: string;
  status: boolean;
  reason: string;
  message: string;
}

/** A subsystem that reports readiness and handler details to Status (runtime, network, VM...). */
export interface StatusSource {
  /** RuntimeReady / NetworkReady contributions; all sources of one type must be true. */
  conditions(): Promise<Condition[]>;
  /** Per-handler features, by handler name. */
  handlers?(): Promise<cri.RuntimeHandler[]>;
  /** Extra verbose info (key → JSON string). */
  info?(): Promise<Record<string, string>>;
  /** Runtime-wide features (StatusResponse.features), merged over all sources. */
  features?(): Promise<cri.RuntimeFeatures>;
}
