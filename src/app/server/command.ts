// The one command that starts the web server: docker/web.Dockerfile's CMD and the
// tests both use it (a test asserts they are equal), so what is tested is what runs.
export const SERVER_ENTRY = "src/app/server/server.ts";
export const SERVER_COMMAND = ["node", "--import", "tsx", SERVER_ENTRY] as const;
