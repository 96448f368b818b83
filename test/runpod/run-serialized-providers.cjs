// Plain node, no TypeScript loader (as pulumi-resource-pulumi-nodejs runs providers): loads each
// serialized provider the way the dynamic-provider host does (compile the text as a module, call
// `handler()`), then drives create/read/delete against RUNPOD_API_URL. Prints the results as JSON.
const Module = require("node:module");
const { readFileSync } = require("node:fs");

function load(text, name) {
  const m = new Module(name, module);
  m.filename = name;
  m.paths = Module._nodeModulePaths(process.cwd());
  m._compile(text, name);
  return m.exports.handler();
}

async function main() {
  const texts = JSON.parse(readFileSync(process.argv[2], "utf8"));
  const volumeProvider = load(texts.volume, "volume-provider.js");
  const endpointProvider = load(texts.endpoint, "endpoint-provider.js");
  const podProvider = load(texts.pod, "pod-provider.js");
  const result = {};

  const volumeCheck = await volumeProvider.check({}, { name: "ser", size: 10, dataCenter: "EU-RO-1" });
  const volume = await volumeProvider.create(volumeCheck.inputs);
  result.volume = { id: volume.id, outs: volume.outs, read: await volumeProvider.read(volume.id, volume.outs) };
  result.volumeCheckFailure = (await volumeProvider.check({}, { name: "ser", size: 1, dataCenter: "EU-RO-1" })).failures;
  // RunPod refuses this one (422): the error must still be a real Error with RunPod's words, as the
  // dynamic-provider host prints it (`${e}`, e.message, e.stack).
  try {
    await volumeProvider.create({ name: "too-big", size: 5000, dataCenter: "EU-RO-1" });
    result.refused = "created";
  } catch (e) {
    result.refused = {
      isError: e instanceof Error, text: `${e}`, message: e.message, stackHead: String(e.stack).split("\n").slice(0, 3),
      status: e.status, isRetryable: e.isRetryable, fieldErrors: e.fieldErrors, json: JSON.parse(JSON.stringify(e)),
    };
  }

  const endpointCheck = await endpointProvider.check({}, {
    name: "ser-llm", image: "w:1", gpuPools: ["ADA_24"], workersMin: 0, workersMax: 1, idleTimeout: 5,
    networkVolumeId: volume.id, dataCenterIds: ["EU-RO-1"],
  });
  const endpoint = await endpointProvider.create(endpointCheck.inputs);
  result.endpoint = { id: endpoint.id, outs: endpoint.outs };

  const podCheck = await podProvider.check({}, {
    name: "ser-web", image: "web:1", ports: ["4321/http"], cpuFlavor: "cpu3g", vcpuCount: 2,
    dataCenterIds: ["EU-RO-1"], networkVolumeId: volume.id,
  });
  const pod = await podProvider.create(podCheck.inputs);
  result.pod = { id: pod.id, outs: pod.outs };

  await podProvider.delete(pod.id, pod.outs);
  await endpointProvider.delete(endpoint.id, endpoint.outs);
  await volumeProvider.delete(volume.id, volume.outs);
  result.afterDelete = {
    volume: (await volumeProvider.read(volume.id, volume.outs)).id,
    endpoint: (await endpointProvider.read(endpoint.id, endpoint.outs)).id,
    pod: (await podProvider.read(pod.id, pod.outs)).id,
  };
  process.stdout.write(JSON.stringify(result));
}

main().catch((error) => {
  console.error(require("node:util").inspect(error, { depth: 4 }));
  process.exit(1);
});
