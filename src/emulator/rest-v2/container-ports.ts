// Container ports as RunPod writes them, `<port>/<protocol>` ("4321/http", "22/tcp"). The spec's schema
// only says "string", so the rule is RunPod's 400, and a pod's runtime.ports reads the number from it.
const PORT = /^(\d{1,5})\/(http|tcp|udp)$/;

interface ContainerPort { private: number; type: string }

export function parsePort(spec: string): ContainerPort | undefined {
  const match = PORT.exec(spec);
  if (match === null) return undefined;
  const port = Number(match[1]);
  return port >= 1 && port <= 65535 ? { private: port, type: match[2] ?? "http" } : undefined;
}

/** The first malformed port as a 400 detail, or undefined when all are well formed. */
export function portsRule(ports: string[]): string | undefined {
  const bad = ports.find((p) => parsePort(p) === undefined);
  return bad === undefined ? undefined : `ports: '${bad}' is not <port>/<protocol> with a port from 1 to 65535 and protocol http, tcp or udp`;
}
