// `npm run volume -- pull-data` / `push-data` with a METAHUMAN_ROOT made by MetaHuman OS itself: one emulator serves
// both the serverless endpoint (real SDK workers, echo engine) and the S3 API of network volumes; the web pod runs
// MetaHuman OS behind the door with its root in the volume's metahuman/ folder as the emulator stores it. The owner
// logs in and chats; the pulled tree is byte-identical (the profile, its memory, MetaHuman OS's users file) and holds
// no RunPod key; a persona edited locally and pushed back is the one MetaHuman OS's own API shows.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metahumanOsLayout, profilePaths } from "../../src/app/paths";
import { buildEmulator } from "../../src/emulator/emulator";
import type { JobEndpoint } from "../../src/emulator/job-store";
import { S3_KEY } from "../emulator/s3-fixture";
import { API_KEY, type RunningEmulator } from "../serverless/emulator-fixture";
import { runVolume, treeHashes } from "../volume/helpers";
import { doorLogin, startPod, withCookies, type RunningPod } from "./pod-fixture";

const post = (url: string, body: unknown, cookie?: string) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) }, body: JSON.stringify(body) });

/** Every file under a folder whose bytes contain `needle`, relative to it. */
function filesHolding(dir: string, needle: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (readFileSync(file).includes(Buffer.from(needle))) found.push(path.relative(dir, file));
  }
  return found;
}

/** Logged in as the owner at the door, with MetaHuman OS's own session cookie too (set on the first page). */
async function ownerCookie(url: string): Promise<string> {
  const cookie = await doorLogin(url);
  const page = await fetch(`${url}/`, { headers: { cookie, accept: "text/html" } });
  expect(page.status).toBe(200);
  await page.arrayBuffer();
  return withCookies(cookie, page);
}

describe("push-data and pull-data with a root MetaHuman OS made", () => {
  let emu: RunningEmulator & { s3Url: string };
  let volumes: string;
  let work: string;
  let volumeId: string;
  let root: string;
  let pod: RunningPod | undefined;
  const message = "remember the harbour bell that rang at noon";

  beforeAll(async () => {
    volumes = mkdtempSync(path.join(tmpdir(), "mh-roundtrip-volumes-"));
    work = mkdtempSync(path.join(tmpdir(), "mh-roundtrip-work-"));
    const endpoint: JobEndpoint = { id: "ep-test", workersMax: 2, workersMin: 0, idleTimeout: 5, executionTimeoutMs: 60_000 };
    const app = await buildEmulator({
      apiKey: API_KEY,
      jobs: { endpoints: (id) => (id === endpoint.id ? endpoint : undefined), executor: "workers", workerPollWaitMs: 1000, workers: { idleTimeoutMs: 20_000, env: { ECHO_TOKEN_DELAY_MS: "0" } } },
      s3: { keys: [S3_KEY], volumeFolder: (id) => path.join(volumes, id) },
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const origin = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    emu = {
      app, origin, endpoint, serverlessUrl: `${origin}/v2`, s3Url: `${origin}/s3`,
      close: async () => {
        const closing = app.close();
        app.server.closeAllConnections();
        await closing;
      },
    };
    const created = await fetch(`${origin}/v2/network-volumes`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "metahuman-volume", size: 10, dataCenter: "EU-RO-1" }),
    });
    expect(created.status).toBe(201);
    volumeId = ((await created.json()) as { id: string }).id;
    // The pod's METAHUMAN_ROOT is /runpod-volume/metahuman: here, that folder as the emulator's S3 API stores it.
    root = path.join(volumes, volumeId, "metahuman");
    mkdirSync(root, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await pod?.stop();
    await emu?.close();
    rmSync(volumes, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  const volumeEnv = (): NodeJS.ProcessEnv => ({
    RUNPOD_S3_ENDPOINT_URL: emu.s3Url,
    RUNPOD_VOLUME_ID: volumeId,
    RUNPOD_DATA_CENTER: "EU-RO-1",
    RUNPOD_S3_ACCESS_KEY_ID: S3_KEY.accessKeyId,
    RUNPOD_S3_SECRET_ACCESS_KEY: S3_KEY.secretAccessKey,
  });

  it("pulls the owner's profile, memory and MetaHuman OS's users file byte for byte, and no RunPod key", async () => {
    pod = await startPod(emu, { root });
    const cookie = await ownerCookie(pod.url);
    const chat = await post(`${pod.url}/api/persona_chat`, { message, mode: "conversation", stream: false }, cookie);
    expect(chat.status).toBe(200);
    expect(((await chat.json()) as { response: string }).response).toContain("harbour bell");
    // Quiet volume for a byte-for-byte comparison: the pod is stopped, as before a migration.
    await pod.stop();
    pod = undefined;

    const layout = metahumanOsLayout(root);
    const ada = profilePaths(root, "ada");
    // MetaHuman OS made this tree itself: its users file, the owner's profile, the exchange in the profile's memory.
    expect(JSON.parse(readFileSync(layout.usersFile, "utf8")).users.map((u: { username: string }) => u.username)).toEqual(["ada"]);
    expect(filesHolding(ada.memory.dir, "harbour bell").length).toBeGreaterThan(0);
    expect(readdirSync(root)).toEqual(expect.arrayContaining(["etc", "brain", "profiles", "persona", "users"]));

    const local = path.join(work, "pulled");
    const pull = await runVolume(["pull-data", local], volumeEnv());
    expect(pull.code, pull.err).toBe(0);
    const here = treeHashes(local);
    const there = treeHashes(root);
    expect(Object.keys(here).length).toBeGreaterThan(10);
    expect(here).toEqual(there);
    const rel = (file: string) => path.relative(root, file).split(path.sep).join("/");
    expect(here[rel(layout.usersFile)]).toBe(there[rel(layout.usersFile)]);
    const profileFiles = Object.keys(there).filter((k) => k.startsWith(`${rel(ada.base)}/`));
    expect(profileFiles.some((k) => k.startsWith(`${rel(ada.memory.dir)}/`))).toBe(true);
    expect(profileFiles).toContain(rel(ada.persona.core));
    for (const k of profileFiles) expect(here[k], k).toBe(there[k]);
    // The exchange is in the pulled memory; the RunPod key and the S3 secret are nowhere in the pulled tree.
    expect(filesHolding(path.join(local, rel(ada.memory.dir)), "harbour bell").length).toBeGreaterThan(0);
    expect(filesHolding(local, API_KEY)).toEqual([]);
    expect(filesHolding(local, S3_KEY.secretAccessKey)).toEqual([]);
  }, 180_000);

  it("pushes an edited persona back, and MetaHuman OS shows it through its own API", async () => {
    const local = path.join(work, "pulled");
    const core = profilePaths(local, "ada").persona.core;
    const persona = JSON.parse(readFileSync(core, "utf8")) as Record<string, unknown> & { identity?: Record<string, unknown> };
    const edited = { ...persona, identity: { ...(persona.identity ?? {}), name: "Ada of the Harbour", humanName: "Ada of the Harbour" }, background: "Keeps the harbour bell." };
    writeFileSync(core, JSON.stringify(edited, null, 2) + "\n");

    const dry = await runVolume(["push-data", local, "--dry-run"], volumeEnv());
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toContain("profiles/ada/persona/core.json");
    const push = await runVolume(["push-data", local], volumeEnv());
    expect(push.code, push.err).toBe(0);
    expect(push.out).toContain("uploaded 1 file(s)");
    expect(readFileSync(profilePaths(root, "ada").persona.core, "utf8")).toBe(readFileSync(core, "utf8"));
    expect(treeHashes(root)).toEqual(treeHashes(local));

    pod = await startPod(emu, { root });
    const cookie = await ownerCookie(pod.url);
    const shown = await fetch(`${pod.url}/api/persona-core-manage`, { headers: { cookie } });
    expect(shown.status).toBe(200);
    const body = (await shown.json()) as { persona: typeof edited };
    expect(body.persona.identity).toMatchObject({ name: "Ada of the Harbour" });
    expect(body.persona.background).toBe("Keeps the harbour bell.");
    expect(body.persona).toEqual(edited);
  }, 180_000);
});
