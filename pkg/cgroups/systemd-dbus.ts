// The system bus through dbus-next: systemd-bus.ts's DbusTransport for the real bus. A module of
// its own, imported (dynamically) only when the systemd cgroup driver is opened: dbus-next and what
// it pulls in (an XML parser, a BigInt shim) are ~1-2 MiB of heap an idle cgroupfs daemon never uses.
import dbus from 'dbus-next';
import { DbusCallError, type DbusSignal, type DbusTransport } from './systemd-bus.js';

/**
 * The system bus through dbus-next (DBUS_SYSTEM_BUS_ADDRESS or /run/dbus/system_bus_socket). A
 * dropped connection fails the calls in flight (through their timeouts) and the next call
 * reconnects; SystemdClient then subscribes again (a new connection has no match rules).
 */
export function systemBusTransport(): DbusTransport {
  const handlers: ((s: DbusSignal) => void)[] = [];
  let bus: dbus.MessageBus | undefined;
  let generation = 0;
  const connect = (): dbus.MessageBus => {
    if (bus) return bus;
    const b = dbus.systemBus();
    generation++;
    // dbus-next reports a refused or dropped connection as an 'error' event; unhandled, it would crash the daemon.
    b.on('error', () => {
      if (bus === b) bus = undefined;
      b.disconnect();
    });
    b.on('message', (msg: dbus.Message) => {
      if (msg.type !== dbus.MessageType.SIGNAL) return;
      for (const h of handlers) h({ path: msg.path, interface: msg.interface, member: msg.member, body: msg.body as unknown[] });
    });
    bus = b;
    return b;
  };
  connect();
  return {
    get generation() {
      return generation;
    },
    async call(m) {
      const msg = new dbus.Message({ destination: m.destination, path: m.path, interface: m.interface, member: m.member, signature: m.signature ?? '', body: m.body ?? [] });
      try {
        const reply = await connect().call(msg);
        return (reply?.body ?? []) as unknown[];
      } catch (e) {
        if (e instanceof dbus.DBusError) throw new DbusCallError(e.type, e.text || e.type);
        throw e;
      }
    },
    onSignal(handler) {
      handlers.push(handler);
    },
    close() {
      bus?.disconnect();
      bus = undefined;
    },
    variant: (signature, value) => new dbus.Variant(signature, value),
  };
}
