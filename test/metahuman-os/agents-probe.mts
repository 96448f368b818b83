// Probe (not a test): jobs MetaHuman OS submits while idle, agents off vs on, after one chat.
import { startEmulator, listJobs } from "/work/main/test/serverless/emulator-fixture";
import { startPod, doorLogin, withCookies } from "/work/main/test/metahuman-os/pod-fixture";
const minutes = Number(process.argv[2] ?? 8);
const arms: any[] = [];
for (const agents of ["off", "on"]) {
  const emu = await startEmulator({ executor: "in-process" } as any, { workersMax: 2 });
  const pod = await startPod(emu, { env: { METAHUMAN_AGENTS: agents } });
  let cookie = await doorLogin(pod.url);
  cookie = withCookies(cookie, await fetch(`${pod.url}/`, { headers: { cookie, accept: "text/html" } }));
  const chat = await fetch(`${pod.url}/api/persona_chat`, { method: "POST", headers: { cookie, "content-type": "application/json" }, body: JSON.stringify({ message: "hello", mode: "conversation", stream: false }) });
  console.log(agents, "chat", chat.status, "jobs after chat", (await listJobs(emu)).length);
  arms.push({ agents, emu, pod, after: (await listJobs(emu)).length });
}
await new Promise((r) => setTimeout(r, minutes * 60_000));
for (const a of arms) {
  const jobs = await listJobs<any>(a.emu);
  console.log(`agents ${a.agents}: ${jobs.length - a.after} LLM calls in ${minutes} idle minutes`);
  await a.pod.stop(); await a.emu.close();
}
