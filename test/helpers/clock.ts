/** An injectable clock (milliseconds), advanced by hand: no sleeps for timing. */
export interface FakeClock {
  (): number;
  advance(ms: number): void;
  set(ms: number): void;
  seconds(): number;
}

export function fakeClock(startMs = Date.now()): FakeClock {
  let t = startMs;
  const clock = (() => t) as FakeClock;
  clock.advance = (ms) => { t += ms; };
  clock.set = (ms) => { t = ms; };
  clock.seconds = () => Math.floor(t / 1000);
  return clock;
}
