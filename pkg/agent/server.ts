// The guest agent's server: one AgentSession on the serial port (framing, windows, dispatch) serving
// the handler table assembled from the feature modules (rpc-*.ts), with the container manager's exits
// and OOMs sent to the host as events.
import type { SerialPort } from './port.js';
import { AgentContainers } from './containers.js';
import { AgentSession, type OnServed } from './session.js';
import { systemRpcs } from './rpc-system.js';
import { containerRpcs } from './rpc-containers.js';
import { execRpcs } from './rpc-exec.js';
import { streamRpcs } from './rpc-streams.js';
import { cloneRpcs } from './rpc-clone.js';

export { AGENT_VERSION } from './session.js';

export class AgentServer {
  readonly containers = new AgentContainers();
  private readonly session: AgentSession;

  constructor(port: SerialPort, log: (msg: string) => void, onServed?: OnServed) {
    const c = this.containers;
    // Every request kind but hello (the session's own) must have its handler here: the compiler checks.
    this.session = new AgentSession(port, log, { ...systemRpcs(), ...containerRpcs(c), ...execRpcs(c, log), ...streamRpcs(c), ...cloneRpcs() }, onServed);
    c.on('exit', (id, status) => this.session.sendEvent({ exit: { container_id: id, status } }));
    c.on('oom', (id) => this.session.sendEvent({ oom: { container_id: id, at_ns: String(BigInt(Date.now()) * 1_000_000n) } }));
  }
}
