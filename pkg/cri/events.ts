// GetContainerEvents: a server stream of container lifecycle events until the client goes away.
import type { RuntimeHandlers } from '../grpc/handlers.js';
import type { ContainerEventBus } from '../events/container-events.js';
import type * as cri from '../api/cri-types.js';

export function eventHandlers(bus: ContainerEventBus): Pick<RuntimeHandlers, 'GetContainerEvents'> {
  return {
    async GetContainerEvents(_req, stream) {
      const queue: cri.ContainerEventResponse[] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = bus.subscribe((ev) => {
        queue.push(ev);
        wake?.();
      });
      try {
        while (!stream.signal.aborted) {
          const ev = queue.shift();
          if (ev) {
            await stream.write(ev);
            continue;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
            stream.signal.addEventListener('abort', () => resolve(), { once: true });
          });
          wake = undefined;
        }
      } finally {
        unsubscribe();
      }
    },
  };
}
