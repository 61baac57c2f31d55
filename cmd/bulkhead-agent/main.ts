// bulkhead-agent: runs as PID 1's exec target inside a Bulkhead micro-VM (bundled into one .mjs by
// deploy/guest/build-guest.sh). Serves the host over the virtio-serial port given by --port.
import { SerialPort } from '../../pkg/agent/port.js';
import { AgentServer } from '../../pkg/agent/server.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const portPath = arg('--port') ?? '/dev/vport0p1';
// The console is the only place for agent diagnostics (the host keeps it in the pod's console log).
const log = (msg: string): void => {
  process.stderr.write(`bulkhead-agent: ${msg}\n`);
};
process.on('uncaughtException', (e) => log(`uncaught: ${e.stack ?? e.message}`));
process.on('unhandledRejection', (e) => log(`unhandled rejection: ${String(e)}`));

const port = new SerialPort(portPath);
new AgentServer(port, log);
await port.start();
log(`serving on ${portPath}`);
