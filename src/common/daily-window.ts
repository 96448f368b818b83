// A daily time window in a time zone, as people write it: "always", or "07:00-23:00 Europe/Berlin" (a window may
// cross midnight: "18:00-02:00 UTC"). Parsed once, it tells the hours it gives a day and whether an instant is
// inside it (on the zone's wall clock, so summer time is followed). metahuman:webHours is one.

export type WebHours =
  | { kind: "always"; hoursPerDay: 24; text: string }
  | { kind: "window"; startMinute: number; endMinute: number; timeZone: string; hoursPerDay: number; text: string };

const WINDOW = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d) +(\S+)$/;

/** What a valid value looks like, for error messages. */
export const WEB_HOURS_ALLOWED = '"always", or "HH:MM-HH:MM <IANA time zone>" such as "07:00-23:00 Europe/Berlin"';

/** Parses a webHours value; throws an Error saying what is wrong (the caller adds the key and the value). */
export function parseWebHours(text: string): WebHours {
  const value = text.trim();
  if (value === "always") return { kind: "always", hoursPerDay: 24, text: value };
  const match = WINDOW.exec(value);
  if (!match) throw new Error(`must be ${WEB_HOURS_ALLOWED}`);
  const startMinute = Number(match[1]) * 60 + Number(match[2]);
  const endMinute = Number(match[3]) * 60 + Number(match[4]);
  if (endMinute > 24 * 60) throw new Error("the end must be at most 24:00");
  const timeZone = match[5]!;
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone });
  } catch {
    throw new Error(`time zone ${JSON.stringify(timeZone)} is not an IANA time zone (such as Europe/Berlin or UTC)`);
  }
  if (startMinute === endMinute) throw new Error('the window is empty (start = end); for a pod that always runs, say "always"');
  const minutes = endMinute > startMinute ? endMinute - startMinute : 24 * 60 - startMinute + endMinute;
  return { kind: "window", startMinute, endMinute, timeZone, hoursPerDay: minutes / 60, text: value };
}

/** Minutes since local midnight in the zone at `at`. */
function localMinute(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return get("hour") * 60 + get("minute");
}

/** Whether the web pod should be running at `at` (wall-clock time in the window's zone, so DST is followed). */
export function isOpen(hours: WebHours, at: Date): boolean {
  if (hours.kind === "always") return true;
  const minute = localMinute(at, hours.timeZone);
  return hours.startMinute < hours.endMinute
    ? minute >= hours.startMinute && minute < hours.endMinute
    : minute >= hours.startMinute || minute < hours.endMinute;
}
