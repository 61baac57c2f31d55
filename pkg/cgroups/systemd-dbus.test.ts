import { describe, it, expect, afterEach } from 'vitest';
import dbus from 'dbus-next';

describe('systemBusTransport (loaded on demand)', () => {
  const saved = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  afterEach(() => {
    if (saved === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = saved;
  });

  it('makes dbus-next Variants for SystemdClient and survives a bus that is not there', async () => {
    process.env.DBUS_SYSTEM_BUS_ADDRESS = 'unix:path=/nonexistent/bulkhead-test-bus';
    const { systemBusTransport } = await import('./systemd-dbus.js');
    const t = systemBusTransport();
    const v = t.variant!('s', 'x');
    expect(v).toBeInstanceOf(dbus.Variant);
    expect(v).toMatchObject({ signature: 's', value: 'x' });
    // (A call on it would wait for SystemdClient's timeout: the transport itself has none.)
    await new Promise((r) => setTimeout(r, 50)); // the refused connection's 'error' event is handled
    t.close();
  });
});
