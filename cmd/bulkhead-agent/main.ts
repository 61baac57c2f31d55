// bulkhead-agent: runs as PID 1's exec target inside a Bulkhead micro-VM (bundled into one .mjs by
// deploy/guest/build-guest.sh). Serves the host over the virtio-serial port given by --port.
import { readFileSync } from 'node:fs';
import { SerialPort } from '../../pkg/agent/port.js';
import { AgentServer } from '../../pkg/agent/server.js';
import { hostileScenarioOf } from '../../pkg/agent/hostile-mode.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function readCmdline(): string {
  try {
    return readFileSync('/proc/cmdline', 'utf8');
  } catch {
    return '';
  }
}

const portPath = arg('--port') ?? '/dev/vport0p1';
// The console is the only place for agent diagnostics (the host keeps it in the pod's console log).
const log = (msg: string): void => {
  process.stderr.write(`bulkhead-agent: ${msg}\n`);
};
process.on('uncaughtException', (e) => log(`uncaught: ${e.stack ?? e.message}`));
process.on('unhandledRejection', (e) => log(`unhandled rejection: ${String(e)}`));

const port = new SerialPort(portPath);
// A test mode the host selects per runtime handler (kernel_params); see pkg/agent/hostile.ts.
const hostile = hostileScenarioOf(readCmdline());
const attacker = hostile ? new (await import('../../pkg/agent/hostile.js')).HostileAgent(hostile, port, log) : undefined;
new AgentServer(port, log, attacker && ((stream, req, res) => attacker.onServed(stream, req, res)));
await port.start();
log(`serving on ${portPath}`);
