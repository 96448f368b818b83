// MetaHuman OS's own config files (its etc/ at the pin, copied from the built app at test time, never committed)
// written by configureMetahumanOs: the keys this deployment owns change, every other setting the person made stays,
// a broken file is named and nothing is changed; and seedFromApp fills an empty volume without overwriting anything.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configureMetahumanOs, MetahumanConfigError, type MetahumanOsSettings } from "../../src/app/metahuman-os/config-files";
import { seedFromApp } from "../../src/app/metahuman-os/seed";
import { METAHUMAN_OS_APP } from "../prerequisites";

const MODEL = "Qwen/Qwen2.5-7B-Instruct";
const GATEWAY = "http://127.0.0.1:4323/v1";
const settings = (agents: "off" | "on" = "off"): MetahumanOsSettings => ({ gatewayBaseUrl: GATEWAY, model: MODEL, agents });

type Json = Record<string, any>;

/** Every file under a folder with its bytes, by relative path. */
function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) {
      const file = path.join(entry.parentPath, entry.name);
      out.set(path.relative(dir, file), fs.readFileSync(file));
    }
  }
  return out;
}

describe("configureMetahumanOs on MetaHuman OS's own etc/", () => {
  let root: string;
  const read = (relative: string): Json => JSON.parse(fs.readFileSync(path.join(root, relative), "utf8"));
  const write = (relative: string, value: unknown) => {
    fs.mkdirSync(path.dirname(path.join(root, relative)), { recursive: true });
    fs.writeFileSync(path.join(root, relative), `${JSON.stringify(value, null, 2)}\n`);
  };
  const upstream = (relative: string): Json => JSON.parse(fs.readFileSync(path.join(METAHUMAN_OS_APP, relative), "utf8"));

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "mh-config-"));
    fs.cpSync(path.join(METAHUMAN_OS_APP, "etc"), path.join(root, "etc"), { recursive: true });
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it("sets the keys it owns, and keeps every setting the person made", async () => {
    // The person's own settings, in the files we edit and beside them.
    const backend = read("etc/llm-backend.json");
    backend.ollama.temperature = 0.33;
    backend.remote.apiKeyName = "mine";
    write("etc/llm-backend.json", backend);
    const models = read("etc/models.json");
    models.globalSettings.personCustom = "kept";
    models.models["default.persona"].options = { ...models.models["default.persona"].options, temperature: 0.42 };
    write("etc/models.json", models);
    const queue = read("etc/queue.json");
    queue.lanes["remote-llm"].maxConcurrent = 9;
    queue.lanes["local-llm"].description = "my lane";
    write("etc/queue.json", queue);
    const agents = read("etc/agents.json");
    agents.globalSettings.timezone = "Europe/Berlin";
    write("etc/agents.json", agents);
    const policy = read("etc/usage-policy.json");
    policy.defaultQuotas.dailyTokenLimit = 5;
    write("etc/usage-policy.json", policy);
    const untouchedBefore = fs.readFileSync(path.join(root, "etc", "chat-settings.json"));

    const changed = await configureMetahumanOs(root, settings("off"));
    expect(changed.sort()).toEqual(["etc/active-operator.json", "etc/agents.json", "etc/llm-backend.json", "etc/models.json", "etc/queue.json", "etc/usage-policy.json"]);

    const backendAfter = read("etc/llm-backend.json");
    expect(backendAfter.activeBackend).toBe("remote");
    expect(backendAfter.remote).toEqual({ provider: "openai", serverUrl: `${GATEWAY}/chat/completions`, model: MODEL, apiKeyName: "mine" });
    expect(backendAfter.ollama).toEqual(backend.ollama);
    expect(backendAfter.vllm).toEqual(backend.vllm);
    expect(backendAfter.localModels).toEqual(backend.localModels);

    const modelsAfter = read("etc/models.json");
    const original = upstream("etc/models.json");
    for (const [id, entry] of Object.entries<Json>(modelsAfter.models)) {
      const before = original.models[id];
      if (["ollama", "vllm", "openai", "runpod_serverless", "remote"].includes(before.provider)) {
        expect(entry.model, id).toBe(MODEL);
        expect({ ...entry, model: before.model, options: before.options }, id).toEqual(before);
      } else {
        expect(entry, id).toEqual(before);
      }
    }
    // The chat roles MetaHuman OS uses go to the gateway; the embedder (local-models) and claude-code keep theirs.
    for (const role of ["default.orchestrator", "default.persona", "default.curator", "default.planner", "default.summarizer"]) expect(modelsAfter.models[role].model).toBe(MODEL);
    expect(modelsAfter.models["default.embedder"]).toEqual(original.models["default.embedder"]);
    expect(modelsAfter.models["big-brother.claude"]).toEqual(original.models["big-brother.claude"]);
    expect(modelsAfter.models["default.persona"].options.temperature).toBe(0.42);
    expect(modelsAfter.globalSettings.personCustom).toBe("kept");
    for (const key of ["defaults", "roleHierarchy", "cognitiveModeMappings", "providers", "_WARNING"]) expect(modelsAfter[key], key).toEqual(original[key]);

    const policyAfter = read("etc/usage-policy.json");
    expect(policyAfter.allowGuestUsage).toBe(false);
    expect(policyAfter.defaultQuotas.dailyTokenLimit).toBe(5);
    expect(policyAfter.providerPriority).toEqual(policy.providerPriority);

    const queueAfter = read("etc/queue.json");
    expect(queueAfter.lanes["local-llm"]).toEqual({ description: "my lane", maxConcurrent: 5, cooldownMs: 0 });
    expect(queueAfter.lanes["remote-llm"].maxConcurrent).toBe(9);
    expect(queueAfter.lanes["vector-index"]).toEqual(queue.lanes["vector-index"]);
    expect(queueAfter.execution).toEqual(queue.execution);

    const agentsAfter = read("etc/agents.json");
    expect(agentsAfter.globalSettings).toEqual({ ...agents.globalSettings, pauseAll: true });
    expect(agentsAfter.agents).toEqual(agents.agents);
    expect(read("etc/active-operator.json")).toEqual({ ...upstream("etc/active-operator.json"), autonomyMode: "reactive" });

    expect(fs.readFileSync(path.join(root, "etc", "chat-settings.json")).equals(untouchedBefore)).toBe(true);
  });

  it("leaves the agents and autonomy as the person set them when agents are on", async () => {
    const agents = read("etc/agents.json");
    agents.globalSettings.pauseAll = false;
    write("etc/agents.json", agents);
    const agentsBytes = fs.readFileSync(path.join(root, "etc", "agents.json"));
    const operatorBytes = fs.readFileSync(path.join(root, "etc", "active-operator.json"));
    const changed = await configureMetahumanOs(root, settings("on"));
    expect(changed).not.toContain("etc/agents.json");
    expect(changed).not.toContain("etc/active-operator.json");
    expect(fs.readFileSync(path.join(root, "etc", "agents.json")).equals(agentsBytes)).toBe(true);
    expect(fs.readFileSync(path.join(root, "etc", "active-operator.json")).equals(operatorBytes)).toBe(true);
    expect(read("etc/llm-backend.json").activeBackend).toBe("remote");
  });

  it("updates the profiles' own models.json too, keeping what each user chose", async () => {
    const ada = upstream("etc/models.json");
    ada.models["default.persona"].options = { temperature: 0.9 };
    ada.models["default.embedder"].model = "ada-embedder";
    write("profiles/ada/etc/models.json", ada);
    write("profiles/bob/etc/models.json", upstream("etc/models.json"));
    fs.mkdirSync(path.join(root, "profiles", "nobody", "etc"), { recursive: true });
    const changed = await configureMetahumanOs(root, settings());
    expect(changed).toEqual(expect.arrayContaining(["profiles/ada/etc/models.json", "profiles/bob/etc/models.json"]));
    expect(fs.existsSync(path.join(root, "profiles", "nobody", "etc", "models.json"))).toBe(false);
    for (const user of ["ada", "bob"]) {
      const models = read(`profiles/${user}/etc/models.json`);
      expect(models.models["default.persona"].model, user).toBe(MODEL);
      expect(models.models["default.orchestrator"].model, user).toBe(MODEL);
    }
    const adaAfter = read("profiles/ada/etc/models.json");
    expect(adaAfter.models["default.persona"].options).toEqual({ temperature: 0.9 });
    expect(adaAfter.models["default.embedder"].model).toBe("ada-embedder");
  });

  it("gives a user's profile that lacks them the root's models.json and an operator.json without Big Brother, and creates nothing else", async () => {
    write("persona/users.json", { users: [{ username: "ada" }, { username: "bob" }, { username: "carol" }, { username: "../escape" }] });
    fs.mkdirSync(path.join(root, "profiles", "ada", "memory"), { recursive: true }); // brought from elsewhere: no etc/
    const bobOperator = { ...upstream("etc/operator.json"), note: "bob's own" }; // Big Brother on, as bob chose
    write("profiles/bob/etc/operator.json", bobOperator);
    write("profiles/bob/etc/models.json", upstream("etc/models.json"));
    fs.mkdirSync(path.join(root, "profiles", "zed"), { recursive: true }); // a folder of nobody in users.json

    const changed = await configureMetahumanOs(root, settings());
    expect(changed).toEqual(expect.arrayContaining(["profiles/ada/etc/models.json", "profiles/ada/etc/operator.json", "profiles/bob/etc/models.json"]));
    expect(changed).not.toContain("profiles/bob/etc/operator.json");
    expect(read("profiles/ada/etc/models.json")).toEqual(read("etc/models.json"));
    expect(read("profiles/ada/etc/models.json").models["default.persona"].model).toBe(MODEL);
    const operator = upstream("etc/operator.json");
    expect(read("profiles/ada/etc/operator.json")).toEqual({ ...operator, bigBrotherMode: { ...operator.bigBrotherMode, enabled: false, delegateAll: false } });
    expect(read("profiles/bob/etc/operator.json")).toEqual(bobOperator);
    expect(fs.existsSync(path.join(root, "profiles", "carol"))).toBe(false);
    expect(fs.readdirSync(path.join(root, "profiles", "zed"))).toEqual([]);
    expect(fs.existsSync(path.join(root, "escape"))).toBe(false);
    expect(await configureMetahumanOs(root, settings())).toEqual([]);
  });

  it("names a file that is not valid JSON and changes no file", async () => {
    write("profiles/ada/etc/models.json", upstream("etc/models.json"));
    for (const broken of ["etc/queue.json", "profiles/ada/etc/models.json", "etc/agents.json"]) {
      const saved = fs.readFileSync(path.join(root, broken));
      fs.writeFileSync(path.join(root, broken), '{ "lanes": { "local-llm": ');
      const before = snapshot(root);
      const error = await configureMetahumanOs(root, settings()).catch((e) => e);
      expect(error, broken).toBeInstanceOf(MetahumanConfigError);
      expect((error as MetahumanConfigError).file).toBe(broken);
      expect((error as Error).message).toContain(broken);
      expect((error as Error).message).toMatch(/not valid JSON/);
      const after = snapshot(root);
      expect([...after.keys()].sort(), broken).toEqual([...before.keys()].sort());
      for (const [file, bytes] of before) expect(after.get(file)!.equals(bytes), `${file} changed when ${broken} was broken`).toBe(true);
      fs.writeFileSync(path.join(root, broken), saved);
    }
    // JSON that is not an object is refused too.
    fs.writeFileSync(path.join(root, "etc", "usage-policy.json"), "[]");
    const before = snapshot(root);
    await expect(configureMetahumanOs(root, settings())).rejects.toThrow(/etc\/usage-policy\.json: must hold a JSON object/);
    for (const [file, bytes] of before) expect(snapshot(root).get(file)!.equals(bytes), file).toBe(true);
  });

  it("is idempotent: a second run changes nothing and returns []", async () => {
    write("profiles/ada/etc/models.json", upstream("etc/models.json"));
    expect((await configureMetahumanOs(root, settings())).length).toBeGreaterThan(0);
    const before = snapshot(root);
    expect(await configureMetahumanOs(root, settings())).toEqual([]);
    const after = snapshot(root);
    for (const [file, bytes] of before) expect(after.get(file)!.equals(bytes), file).toBe(true);
    // A new model is a change again, and only where the model appears.
    const changed = await configureMetahumanOs(root, { ...settings(), model: "another/model" });
    expect(changed.sort()).toEqual(["etc/llm-backend.json", "etc/models.json", "profiles/ada/etc/models.json"]);
  });
});

describe("seedFromApp", () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "mh-seed-"));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it("copies MetaHuman OS's etc/ and brain/ to an empty root, and returns what it wrote", () => {
    const written = seedFromApp(METAHUMAN_OS_APP, root);
    const expected = [...snapshot(path.join(METAHUMAN_OS_APP, "etc")).keys()].map((f) => path.join("etc", f));
    if (fs.existsSync(path.join(METAHUMAN_OS_APP, "brain"))) expected.push(...[...snapshot(path.join(METAHUMAN_OS_APP, "brain")).keys()].map((f) => path.join("brain", f)));
    expect(written.sort()).toEqual(expected.sort());
    expect(written).toContain(path.join("etc", "models.json"));
    for (const file of written) expect(fs.readFileSync(path.join(root, file)).equals(fs.readFileSync(path.join(METAHUMAN_OS_APP, file))), file).toBe(true);
    // Nothing else of the app comes along.
    expect(fs.readdirSync(root).sort()).toEqual(fs.existsSync(path.join(METAHUMAN_OS_APP, "brain")) ? ["brain", "etc"] : ["etc"]);
    // Nothing left to copy the second time.
    expect(seedFromApp(METAHUMAN_OS_APP, root)).toEqual([]);
  });

  it("never overwrites a person's file, and copies only what is missing", () => {
    fs.mkdirSync(path.join(root, "etc"), { recursive: true });
    const mine = '{"mine": true, "not": "the default"}\n';
    fs.writeFileSync(path.join(root, "etc", "models.json"), mine);
    fs.writeFileSync(path.join(root, "etc", "queue.json"), "not even JSON");
    const written = seedFromApp(METAHUMAN_OS_APP, root);
    expect(written).not.toContain(path.join("etc", "models.json"));
    expect(written).not.toContain(path.join("etc", "queue.json"));
    expect(written).toContain(path.join("etc", "llm-backend.json"));
    expect(fs.readFileSync(path.join(root, "etc", "models.json"), "utf8")).toBe(mine);
    expect(fs.readFileSync(path.join(root, "etc", "queue.json"), "utf8")).toBe("not even JSON");
  });
});
