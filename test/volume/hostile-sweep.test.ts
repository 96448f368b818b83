// The closing sweep of issue 18 over the volume tool: a volume holding every hostile name from the probes (and more)
// is backed up, verified, wiped, restored and pulled; every byte must come back under its exact key. The objects are
// written straight into the emulator's volume folder (its store). Counts are printed for the closing note.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startS3Emulator, type S3Emulator } from "../emulator/s3-fixture";
import { runVolume, type CliRun, volumeEnv } from "./helpers";

let emu: S3Emulator;
let work: string;
beforeAll(async () => {
  emu = await startS3Emulator();
  work = mkdtempSync(path.join(tmpdir(), "volume-sweep-"));
});
afterAll(async () => {
  await emu?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Names under metahuman/ (file names; "/" makes folders). */
export const HOSTILE_NAMES = [
  "nl\nline", "tab\there", "back\\slash", "\\\\server\\share", "C:\\x", ".x.0123456789ab.part", ".metahuman-0123456789ab.part",
  ".persona.0123456789ab.part", "esc\u001b[31mred", "osc\u001b]0;title\u0007", "bidi\u202etxt.exe", "lri\u2066x\u2069", "zw\u200bspace",
  "bom\ufeffx", "ctl\u0001\u0002", "del\u007f", "c1\u0085\u009b", "line\u2028sep", " lead and trail ", "-rf", "--force", "*?[]{}",
  "%2F%00%zz", "plus+sign", "amp&lt;<tag>\"q'", "semi;colon|pipe", "$HOME`id`", "~tilde", "emoji😀", "combining e\u0301",
  "ｆｕｌｌwidth", "..foo", "foo..", ".hidden", "...", "MANIFEST.sha256", "MANIFEST.json", "backup.json", "files/nested",
  "odd/0000", "a/b/c/deep", `${"x".repeat(240)}.json`, "y".repeat(255), "é".repeat(127), "雪".repeat(85),
  "dir with spaces/file with spaces", "trailing.dot.", "CON", "aux.txt", "name:colon", "#hash", "?query",
  // Carriage returns: XML turns a raw "\r" into "\n", so they survive only because listings are URL-encoded.
  "cr\rreturn", "crlf\r\nx",
];

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path.join(d, entry.name), r);
      else out.set(r, sha(readFileSync(path.join(d, entry.name))));
    }
  };
  walk(dir, "");
  return out;
}

it("backs up a volume holding every hostile name and restores it byte for byte; pull-data brings every one back", async () => {
  const volumeId = await emu.createVolume();
  const env = volumeEnv(emu, volumeId);
  const root = path.join(emu.folderOf(volumeId), "metahuman");
  const bodies = new Map<string, Buffer>();
  for (const [i, name] of HOSTILE_NAMES.entries()) {
    const body = randomBytes(i * 37);
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), body);
    bodies.set(name, body);
  }
  const before = tree(root);
  expect(before.size).toBe(HOSTILE_NAMES.length);
  const totalBytes = [...bodies.values()].reduce((n, b) => n + b.length, 0);

  const runs: CliRun[] = [];
  const timed = async (args: string[], e: NodeJS.ProcessEnv) => {
    const run = await Promise.race([
      runVolume(args, e),
      new Promise<CliRun>((resolve) => setTimeout(() => resolve({ code: -1, out: "", err: "HANG" }), 20_000)),
    ]);
    runs.push(run);
    return run;
  };
  const backups = path.join(work, "backups");
  const taken = await timed(["backup", backups], env);
  expect(taken.code, taken.err).toBe(0);
  const dir = path.join(backups, readdirSync(backups)[0]!);
  const verified = await timed(["verify-backup", dir], {});
  expect(verified.out).toContain(`OK: ${HOSTILE_NAMES.length} file(s) match the manifest`);

  rmSync(root, { recursive: true });
  const restored = await timed(["restore", dir], env);
  expect(restored.code, restored.err).toBe(0);
  const after = tree(root);
  const pulled = path.join(work, "pulled");
  const pull = await timed(["pull-data", pulled], env);
  expect(pull.code, pull.err).toBe(0);
  const local = tree(pulled);

  const lost = (have: Map<string, string>) => HOSTILE_NAMES.filter((n) => have.get(n) !== sha(bodies.get(n)!));
  const bytesLost = (have: Map<string, string>) => lost(have).reduce((n, name) => n + bodies.get(name)!.length, 0);
  const printed = runs.map((r) => `${r.out}\n${r.err}`).join("\n");
  const counts = {
    names: HOSTILE_NAMES.length, bytes: totalBytes,
    namedErrors: runs.filter((r) => r.code > 0).length,
    serverErrors: (printed.match(/S3 answered 5\d\d/g) ?? []).length,
    hangs: runs.filter((r) => r.code === -1).length,
    bytesLostRestore: bytesLost(after), bytesLostPull: bytesLost(local),
    rawControlsPrinted: /[\u001b\u202e\u2066\u0085\u009b]/.test(printed),
  };
  console.log(`hostile sweep (volume tool): ${JSON.stringify(counts)}`);
  expect(lost(after)).toEqual([]);
  expect(lost(local)).toEqual([]);
  expect(after).toEqual(before);
  expect(counts).toMatchObject({ namedErrors: 0, serverErrors: 0, hangs: 0, bytesLostRestore: 0, bytesLostPull: 0, rawControlsPrinted: false });
});
