// src/app/secrets-fd.ts with real file descriptors: the secrets the web image's entrypoint hands the server on
// descriptor 3 land in its env, the descriptor is closed, and anything else on it is refused by name, never by value.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EnvError } from "../../src/app/env";
import { takeSecretsFromFd } from "../../src/app/secrets-fd";
import { TEST_SECRET } from "./helpers";

const temps: string[] = [];
afterEach(() => {
  for (const t of temps.splice(0)) fs.rmSync(t, { recursive: true, force: true });
});

/** A descriptor open for reading on a file holding `text` (the entrypoint's pipe, as a file). */
function fdWith(text: string): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mh-secrets-fd-"));
  temps.push(dir);
  fs.writeFileSync(path.join(dir, "secrets"), text);
  return fs.openSync(path.join(dir, "secrets"), "r");
}

const isOpen = (fd: number) => {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

describe("takeSecretsFromFd", () => {
  it("puts the secrets into env, closes the descriptor and removes POD_SECRETS_FD", () => {
    const fd = fdWith(`RUNPOD_API_KEY=rpa_a=b c\nSESSION_SECRET=${TEST_SECRET}\n\n`);
    const env: NodeJS.ProcessEnv = { POD_SECRETS_FD: String(fd), LLM_MODEL: "m" };
    expect(takeSecretsFromFd(env)).toEqual(["RUNPOD_API_KEY", "SESSION_SECRET"]);
    expect(env).toEqual({ LLM_MODEL: "m", RUNPOD_API_KEY: "rpa_a=b c", SESSION_SECRET: TEST_SECRET });
    expect(isOpen(fd)).toBe(false);
  });

  it("does nothing without POD_SECRETS_FD", () => {
    const env: NodeJS.ProcessEnv = { SESSION_SECRET: TEST_SECRET };
    expect(takeSecretsFromFd(env)).toEqual([]);
    expect(env).toEqual({ SESSION_SECRET: TEST_SECRET });
  });

  it("refuses a variable that is not a secret, by its name and never with the values", () => {
    const fd = fdWith(`SESSION_SECRET=${TEST_SECRET}\nLLM_PROVIDER=ollama-${TEST_SECRET}\n`);
    const env: NodeJS.ProcessEnv = { POD_SECRETS_FD: String(fd) };
    let error: unknown;
    try {
      takeSecretsFromFd(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EnvError);
    expect((error as Error).message).toContain("POD_SECRETS_FD carries LLM_PROVIDER, which is not one of RUNPOD_API_KEY, SESSION_SECRET");
    expect((error as Error).message).not.toContain(TEST_SECRET);
    expect(isOpen(fd)).toBe(false);
  });

  it("names a descriptor that is not a number or not open", () => {
    expect(() => takeSecretsFromFd({ POD_SECRETS_FD: "three" })).toThrow('POD_SECRETS_FD must be a file descriptor number (got "three")');
    const fd = fdWith("");
    fs.closeSync(fd);
    expect(() => takeSecretsFromFd({ POD_SECRETS_FD: String(fd) })).toThrow(`POD_SECRETS_FD=${fd}, but file descriptor ${fd} could not be read (EBADF)`);
  });
});
