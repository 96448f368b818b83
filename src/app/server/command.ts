// The commands that start the web server, in one place: the tests use them, and docker/web.Dockerfile's CMD is
// POD_COMMAND (test/app/server-process.test.ts asserts they are equal), so what is tested is what runs.
export const SERVER_ENTRY = "src/app/server/server.ts";
export const SERVER_COMMAND = ["node", "--import", "tsx", SERVER_ENTRY] as const;

// The web pod with MetaHuman OS in the image: the front door, the gateway and MetaHuman OS (pod.ts).
export const POD_ENTRY = "src/app/server/pod.ts";
export const POD_COMMAND = ["node", "--import", "tsx", POD_ENTRY] as const;
