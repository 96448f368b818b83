// The worker protocol over HTTP as the SDK speaks it (JSON text labelled form-urlencoded, the worker key), with this
// test as the worker: the endpoint allows no workers of the emulator's own, so the jobs wait for this one.
import { afterEach, describe, expect, it } from "vitest";
import { API_KEY, call, startEmulator, type RunningEmulator } from "../serverless/emulator-fixture";

let emu: RunningEmulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

const worker = (path: string, init: { method?: string; body?: unknown; key?: string } = {}) =>
  fetch(`${emu!.origin}/_worker/${emu!.endpoint.id}/${path}`, {
    method: init.method ?? "GET",
    headers: { authorization: init.key ?? API_KEY, ...(init.body !== undefined ? { "content-type": "application/x-www-form-urlencoded" } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });

describe("worker protocol", () => {
  it("hands a job to job-take, takes its streamed chunks and a 2 MB output at job-done", async () => {
    emu = await startEmulator({ executor: "workers", workerPollWaitMs: 1000 }, { workersMax: 0 });
    expect((await worker("job-take/w1", { key: "wrong" })).status).toBe(401);
    expect((await worker("job-take/w1?job_in_progress=0")).status).toBe(204);
    const run = await call(emu, "POST", "/run", { input: { prompt: "x" } });
    const taken = await worker("job-take/w1?job_in_progress=0");
    expect(await taken.json()).toEqual({ id: run.body.id, input: { prompt: "x" } });
    expect((await worker(`job-stream/w1/${run.body.id}?isStream=false`, { method: "POST", body: { output: { text: "a" } } })).status).toBe(200);
    const big = "y".repeat(2 * 1024 * 1024);
    const done = await worker(`job-done/w1/${run.body.id}?isStream=true`, { method: "POST", body: { output: [{ text: big }] } });
    expect(done.status).toBe(200);
    const status = await call(emu, "GET", `/status/${run.body.id}`);
    expect(status.body).toMatchObject({ status: "COMPLETED", workerId: "w1" });
    expect(status.body.output[0].text).toHaveLength(big.length);
    const stream = await call(emu, "GET", `/stream/${run.body.id}`);
    expect(stream.body.stream).toEqual([{ output: { text: "a" } }]);
  });

  it("a cancel reaches the worker's job-stop long poll", async () => {
    emu = await startEmulator({ executor: "workers", workerPollWaitMs: 2000 }, { workersMax: 0 });
    const run = await call(emu, "POST", "/run", { input: { prompt: "x" } });
    await worker("job-take/w1?job_in_progress=0");
    const stop = worker("job-stop/w1");
    await call(emu, "POST", `/cancel/${run.body.id}`);
    expect(await (await stop).json()).toEqual({ jobsToStop: [run.body.id] });
  });
});
