// Local TCP ports for port-forward clients to listen on. Random ports in the kernel's ephemeral
// range (32768-60999) can be taken by any outgoing connection of the busy test host, so pick
// below it and check that every port of the run can really be bound right now.
import net from 'node:net';

const LOW = 20_000;
const HIGH = 32_000;

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** First port of `count` consecutive ports on 127.0.0.1 that are free now. */
export async function freeLocalPorts(count = 1): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = LOW + Math.floor(Math.random() * (HIGH - LOW - count));
    let ok = true;
    for (let p = base; ok && p < base + count; p++) ok = await bindable(p);
    if (ok) return base;
  }
  throw new Error(`no ${count} free consecutive local ports in ${LOW}-${HIGH}`);
}
