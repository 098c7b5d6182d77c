// The wall clock to the microsecond, for the lines' timestamps (Heroku prints
// `2026-11-30T04:12:25.123456+00:00`). Date.now() gives milliseconds only; performance.now() is
// finer but drifts from the wall clock (it does not follow NTP), so its offset to Date.now() is
// taken again whenever the two disagree by more than a millisecond. Within a millisecond of the
// last reading it never goes back, so one process's lines keep their order by time as well.
let offset = Date.now() - performance.now();
let last = 0;

/** Milliseconds since the epoch, with a microsecond fraction. */
export function preciseNow(): number {
  const wall = Date.now();
  let t = performance.now() + offset;
  if (t < wall - 1 || t > wall + 1) {
    offset = wall - performance.now();
    t = wall;
  }
  if (t < last && last - t < 1) t = last;
  t = Math.round(t * 1000) / 1000;
  last = t;
  return t;
}
