// Time signal: inside or outside the configured working hours, in the configured IANA time zone (Intl, no time-zone package).
import type { WorkingHours } from '../../config/risk.js';
import { WEEKDAYS } from '../../config/risk.js';
import type { SignalHit } from '../types.js';

const minutesOf = (clock: string) => Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3, 5));
const SHORT_DAYS: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };

/** Compiles the working hours once: `inside(now)` answers for an instant (ms since epoch). */
export function workingHoursClock(hours: WorkingHours): { inside(now: number): boolean } {
  const format = new Intl.DateTimeFormat('en-US', { timeZone: hours.timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const days = new Set(hours.days.map((day) => WEEKDAYS.indexOf(day)));
  const start = minutesOf(hours.start);
  const end = minutesOf(hours.end);
  return {
    inside(now) {
      let day = -1;
      let minute = 0;
      for (const part of format.formatToParts(now)) {
        if (part.type === 'weekday') day = SHORT_DAYS[part.value] ?? -1;
        else if (part.type === 'hour') minute += Number(part.value) * 60;
        else if (part.type === 'minute') minute += Number(part.value);
      }
      // A night shift (start after end) belongs to the day it started on.
      if (start < end) return days.has(day) && minute >= start && minute < end;
      return (days.has(day) && minute >= start) || (days.has((day + 6) % 7) && minute < end);
    },
  };
}

export function timeSignal(insideWorkingHours: boolean | undefined): SignalHit[] {
  return insideWorkingHours === false ? [{ signal: 'time.off_hours' }] : [];
}
