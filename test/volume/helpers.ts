// Runs `npm run volume`'s entry (src/volume/cli.ts main) in-process against the emulator's S3 API on loopback,
// with the env a person would set, capturing what it prints.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { main } from "../../src/volume/cli";
import { S3_KEY, type S3Emulator } from "../emulator/s3-fixture";

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export function volumeEnv(emu: S3Emulator, volumeId: string, dataCenter = "EU-RO-1", key = S3_KEY): NodeJS.ProcessEnv {
  return {
    RUNPOD_S3_ENDPOINT_URL: emu.s3Url,
    RUNPOD_VOLUME_ID: volumeId,
    RUNPOD_DATA_CENTER: dataCenter,
    RUNPOD_S3_ACCESS_KEY_ID: key.accessKeyId,
    RUNPOD_S3_SECRET_ACCESS_KEY: key.secretAccessKey,
  };
}

export async function runVolume(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const progress: string[] = [];
  const code = await main(args, {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    env,
    progress: { isTTY: false, write: (text) => progress.push(text) },
  });
  return { code, out: out.join("\n"), err: [...err, ...progress].join("\n") };
}

/** A small Hugging Face model folder: config, tokenizer files and one weights file big enough for several parts. */
export function writeFixtureModel(dir: string, weightsBytes = 12 * 1024 * 1024 + 321): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "config.json"), JSON.stringify({ architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", hidden_size: 64 }));
  writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({ model_max_length: 8192 }));
  writeFileSync(path.join(dir, "generation_config.json"), JSON.stringify({ temperature: 0.7 }));
  writeFileSync(path.join(dir, "model.safetensors"), randomBytes(weightsBytes));
}

/** Every file under `dir` with its SHA-256, by relative path. */
export function treeHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const name of readdirSync(d)) {
      const full = path.join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(full).isDirectory()) walk(full, r);
      else out[r] = createHash("sha256").update(readFileSync(full)).digest("hex");
    }
  };
  walk(dir, "");
  return out;
}

/** A small tree in the plan's older layout, a fixture for the transfer mechanics (data-roundtrip.test.ts moves a root MetaHuman OS made). */
export function writeMetaHumanTree(root: string): void {
  const files: Record<string, string> = {
    "persona/core.json": JSON.stringify({ name: "Ada", values: ["curiosity"] }),
    "persona/relationships.json": "[]",
    "persona/routines.json": "[]",
    "memory/episodic/2026/2026-11-30-first-chat.json": JSON.stringify({ text: "met the twin" }),
    "memory/semantic/facts.json": "{}",
    "etc/models.json": JSON.stringify({ default: "Qwen/Qwen2.5-7B-Instruct-AWQ" }),
    "users/bob/persona/core.json": JSON.stringify({ name: "Bob" }),
  };
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  }
}
