// Adds a user (or sets a new password) on the volume:
//   npm run add-user -- <name>            password from stdin (first line)
//   MH_PASSWORD=... npm run add-user -- <name>
// Needs METAHUMAN_ROOT (from the environment or .env).
import * as dotenv from "dotenv";
import { MetaHumanPaths } from "../src/app/paths";
import { setPassword } from "../src/app/server/auth/accounts";

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").split(/\r?\n/)[0] ?? "";
}

async function main(): Promise<void> {
  dotenv.config({ quiet: true } as dotenv.DotenvConfigOptions);
  const username = process.argv[2];
  if (!username) throw new Error("usage: npm run add-user -- <name> (password on stdin or in MH_PASSWORD)");
  const root = process.env.METAHUMAN_ROOT;
  if (!root) throw new Error("METAHUMAN_ROOT is required (the volume's MetaHuman folder)");
  const password = process.env.MH_PASSWORD ?? (await readStdinLine());
  const paths = MetaHumanPaths.open(root);
  const { created } = await setPassword(paths, username, password);
  process.stdout.write(`${created ? "added" : "updated password of"} user ${username}\n`);
}

main().catch((err) => {
  process.stderr.write(`add-user: ${(err as Error).message}\n`);
  process.exit(1);
});
