import { describe, expect, it } from 'vitest';
import { clockTicks, parseStat, readStat } from './proc-stat.js';

describe('parseStat', () => {
  it('reads state, ppid and the CPU counters after the last ")" of comm', () => {
    // fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime …
    const line = '4242 (we(ird) name) Z 17 4242 4242 0 -1 4194560 120 0 0 0 31 7 250 40 20 0 1 0 9999 0 0';
    expect(parseStat(line)).toEqual({ pid: 4242, comm: 'we(ird) name', state: 'Z', ppid: 17, selfTicks: 38, childTicks: 290 });
  });

  it('rejects what is not a stat line', () => {
    expect(parseStat('')).toBeUndefined();
    expect(parseStat('12 (x) S 1 2 3')).toBeUndefined();
    expect(parseStat('12 (x) S 1 2 3 4 5 6 7 8 9 10 x y z w')).toBeUndefined();
  });

  it('reads this process, and nothing for a pid that does not exist', () => {
    const me = readStat(process.pid);
    expect(me?.pid).toBe(process.pid);
    expect(me?.ppid).toBe(process.ppid);
    expect(me?.selfTicks).toBeGreaterThanOrEqual(0);
    expect(readStat(2 ** 22 + 1)).toBeUndefined(); // above pid_max's ceiling
    expect(clockTicks()).toBeGreaterThan(0);
  });
});
