// Which volume `npm run volume` reaches and with which key: flags, env, a Pulumi stack's outputs and config (the CLI
// injected here), and RunPod's REST API for the volume's data center and size (the emulator over loopback).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveTarget } from "../../src/volume/target";
import { API_KEY, S3_KEY, startS3Emulator, type S3Emulator } from "../emulator/s3-fixture";

let emu: S3Emulator;
beforeAll(async () => { emu = await startS3Emulator(); });
afterAll(async () => emu?.close());

const keys = { RUNPOD_S3_ACCESS_KEY_ID: S3_KEY.accessKeyId, RUNPOD_S3_SECRET_ACCESS_KEY: S3_KEY.secretAccessKey };

describe("resolveTarget", () => {
  it("takes the volume and data center from the env, and RunPod's S3 endpoint for that data center", async () => {
    const target = await resolveTarget({ env: { ...keys, RUNPOD_VOLUME_ID: "vol1", RUNPOD_DATA_CENTER: "eu-ro-1" } });
    expect(target).toEqual({ volumeId: "vol1", dataCenter: "EU-RO-1", endpoint: "https://s3api-eu-ro-1.runpod.io/", credentials: S3_KEY });
  });

  it("looks the data center and size up with RUNPOD_API_KEY (REST v2)", async () => {
    const volumeId = await emu.createVolume("US-KS-2", 20);
    const target = await resolveTarget({ env: { ...keys, RUNPOD_VOLUME_ID: volumeId, RUNPOD_API_KEY: API_KEY, RUNPOD_API_URL: emu.origin } });
    expect([target.dataCenter, target.sizeBytes, target.endpoint]).toEqual(["US-KS-2", 20 * 1024 ** 3, "https://s3api-us-ks-2.runpod.io/"]);
  });

  it("reads a stack's outputs and its S3 key settings through the Pulumi CLI", async () => {
    const calls: string[][] = [];
    const pulumi = (args: string[]) => {
      calls.push(args);
      if (args[0] === "stack") return JSON.stringify({ volumeId: "vol-from-stack", dataCenter: "EUR-IS-1", webUrl: "https://x" });
      if (args[2] === "metahuman:s3AccessKeyId") return "user_fromstack\n";
      if (args[2] === "metahuman:s3SecretAccessKey") return "rps_fromstack\n";
      throw new Error("unexpected");
    };
    const target = await resolveTarget({ stack: "prod", env: {}, pulumi });
    expect(target).toMatchObject({ volumeId: "vol-from-stack", dataCenter: "EUR-IS-1", credentials: { accessKeyId: "user_fromstack", secretAccessKey: "rps_fromstack" } });
    expect(calls[0]).toEqual(["stack", "output", "--json", "--stack", "prod"]);
  });

  it("names what is missing: the volume, the S3 key (not the API key), a data center without the S3 API", async () => {
    await expect(resolveTarget({ env: keys })).rejects.toThrow(/no volume: pass --volume <id>, set RUNPOD_VOLUME_ID/);
    await expect(resolveTarget({ env: { RUNPOD_VOLUME_ID: "v" } })).rejects.toThrow(/no S3 API key: .*S3 API Keys; it is not your RunPod API key/);
    await expect(resolveTarget({ env: { ...keys, RUNPOD_VOLUME_ID: "v" } })).rejects.toThrow(/the data center of volume v is unknown/);
    await expect(resolveTarget({ env: { ...keys, RUNPOD_VOLUME_ID: "v", RUNPOD_DATA_CENTER: "US-TX-3" } }))
      .rejects.toThrow(/data center US-TX-3 has no S3 API for network volumes.*offers it in EU-CZ-1, EU-RO-1/);
  });
});
