// In-process bus for GetContainerEvents: every subscriber gets every event published after it
// subscribed (kubelet's evented PLEG keeps one stream open).
import type * as cri from '../api/cri-types.js';

export type ContainerEventListener = (ev: cri.ContainerEventResponse) => void;

export class ContainerEventBus {
  private readonly listeners = new Set<ContainerEventListener>();

  subscribe(l: ContainerEventListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  publish(ev: cri.ContainerEventResponse): void {
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch {
        /* a broken subscriber must not break the publisher */
      }
    }
  }

  get subscribers(): number {
    return this.listeners.size;
  }
}
