// metahuman:webHours: what is accepted (and the message for what is not), and when the pod should run.
import { describe, expect, it } from "vitest";
import { ConfigError, parseStackConfig } from "../../src/infra/config";
import { isOpen, parseWebHours } from "../../src/common/daily-window";

describe("metahuman:webHours in the stack config", () => {
  it("defaults to always and takes a window in an IANA zone", () => {
    expect(parseStackConfig({}).webHours).toBe("always");
    expect(parseStackConfig({ webHours: "07:00-23:00 Europe/Berlin" }).webHours).toBe("07:00-23:00 Europe/Berlin");
  });

  it.each([
    ["7-23", /metahuman:webHours = "7-23": must be "always", or "HH:MM-HH:MM <IANA time zone>"/],
    ["07:00-23:00 Mars/Olympus", /metahuman:webHours = "07:00-23:00 Mars\/Olympus": time zone "Mars\/Olympus" is not an IANA time zone/],
    ["08:00-08:00 UTC", /the window is empty/],
    ["25:00-23:00 UTC", /must be "always"/],
  ])("refuses %s naming the key, the value and what is allowed", (value, message) => {
    let caught: unknown;
    try { parseStackConfig({ webHours: value }); } catch (error) { caught = error; }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).message).toMatch(message);
  });
});

describe("isOpen", () => {
  const berlin = parseWebHours("07:00-23:00 Europe/Berlin");

  it("reads the wall clock of the zone, summer time included", () => {
    // 2026-07-01 05:30 UTC is 07:30 in Berlin (CEST, UTC+2): open; 04:59 UTC is 06:59: closed.
    expect(isOpen(berlin, new Date("2026-07-01T05:30:00Z"))).toBe(true);
    expect(isOpen(berlin, new Date("2026-07-01T04:59:00Z"))).toBe(false);
    // 2026-12-01 06:30 UTC is 07:30 in Berlin (CET, UTC+1): open; 22:00 UTC is 23:00: closed.
    expect(isOpen(berlin, new Date("2026-12-01T06:30:00Z"))).toBe(true);
    expect(isOpen(berlin, new Date("2026-12-01T22:00:00Z"))).toBe(false);
  });

  it("a window across midnight is open on both sides of it", () => {
    const night = parseWebHours("22:00-02:00 UTC");
    expect(isOpen(night, new Date("2026-12-01T23:30:00Z"))).toBe(true);
    expect(isOpen(night, new Date("2026-12-01T01:59:00Z"))).toBe(true);
    expect(isOpen(night, new Date("2026-12-01T02:00:00Z"))).toBe(false);
    expect(isOpen(parseWebHours("always"), new Date())).toBe(true);
  });
});
