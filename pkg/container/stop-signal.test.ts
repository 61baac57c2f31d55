import { describe, expect, it } from 'vitest';
import { canonicalStopSignal, criSignalName, parseStopSignal, statusStopSignal, UnknownSignalError } from './stop-signal.js';

describe('parseStopSignal', () => {
  it.each([
    ['SIGTERM', 15],
    ['TERM', 15],
    ['sigterm', 15],
    ['term', 15],
    ['15', 15],
    ['9', 9],
    ['SIGKILL', 9],
    ['KILL', 9],
    ['SIGUSR1', 10],
    ['USR1', 10],
    ['SIGQUIT', 3],
    ['SIGWINCH', 28],
    ['SIGCLD', 17],
    ['SIGIOT', 6],
    ['SIGPOLL', 29],
    ['SIGRTMIN', 34],
    ['SIGRTMIN+3', 37],
    ['RTMIN+3', 37],
    ['SIGRTMINPLUS3', 37],
    ['SIGRTMINPLUS15', 49],
    ['SIGRTMAXMINUS14', 50],
    ['SIGRTMAX-1', 63],
    ['SIGRTMAX', 64],
    ['64', 64],
  ])('%s → %i', (sig, n) => {
    expect(parseStopSignal(sig)).toBe(n);
  });

  it.each(['', 'SIG', 'SIGFOO', 'TERMINATE', '0', '65', '-9', '1.5', 'SIGRTMIN+31', 'SIGRTMAX+1', 'SIGRTMIN-1', ' 15', 'RUNTIME_DEFAULT'])('"%s" is refused', (sig) => {
    expect(() => parseStopSignal(sig)).toThrow(UnknownSignalError);
  });
});

describe('criSignalName', () => {
  it('names every signal 1-64 but the two glibc keeps (32, 33) with a CRI enum value that parses back', () => {
    for (let n = 1; n <= 64; n++) {
      const name = criSignalName(n);
      if (n === 32 || n === 33) expect(name).toBeUndefined();
      else expect(parseStopSignal(name!)).toBe(n);
    }
    expect([criSignalName(6), criSignalName(17), criSignalName(29), criSignalName(37), criSignalName(60)]).toEqual(['SIGABRT', 'SIGCHLD', 'SIGIO', 'SIGRTMINPLUS3', 'SIGRTMAXMINUS4']);
  });
});

describe('the stop signal a container record keeps and reports', () => {
  it('is the CRI enum name whatever the spelling, so ContainerStatus.stop_signal is a valid enum value', () => {
    // Before: "9" was kept as is and reported as "SIG9", "RTMIN+3" as "SIGRTMIN+3": neither is in the enum.
    expect(['9', 'TERM', 'sigusr1', 'SIGRTMIN+3', 'RTMAX-2', 'SIGRTMINPLUS3'].map(canonicalStopSignal)).toEqual(['SIGKILL', 'SIGTERM', 'SIGUSR1', 'SIGRTMINPLUS3', 'SIGRTMAXMINUS2', 'SIGRTMINPLUS3']);
    expect(() => canonicalStopSignal('SIGFOO')).toThrow(UnknownSignalError);
    expect(statusStopSignal('SIGKILL')).toBe('SIGKILL');
    expect(statusStopSignal('9')).toBe('SIGKILL');
    expect(statusStopSignal('32')).toBe('RUNTIME_DEFAULT');
    expect(statusStopSignal('bogus from an old record')).toBe('RUNTIME_DEFAULT');
  });
});
