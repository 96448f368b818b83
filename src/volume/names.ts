// Key names and local failures as a person reads them. An S3 key may hold any character: a newline would forge a
// line of output, an escape sequence would drive the terminal, a bidi control would show a name reversed. `shown`
// prints a plain name as it is and any other name quoted, with every such character escaped, so that no two keys print
// alike. `localFailure` says what a Node file-system error means, naming the file, instead of passing for a network one.

/** C0 and C1 controls, DEL, and the Unicode controls that reorder or hide text (bidi, zero-width, line separators). */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, "g");

/** A key (or any name from outside) safe to print on a terminal: as it is when plain, else quoted and escaped. */
export function shown(name: string): string {
  if (!UNSAFE.test(name) && !name.startsWith('"') && name.trim() === name && name !== "") return name;
  const escaped = name.replace(/["\\]/g, (c) => `\\${c}`)
    .replace(UNSAFE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return `"${escaped}"`;
}

/** Whatever reaches the terminal: unsafe characters but the line break escaped (a last guard behind `shown`). */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE_ALL, (c) => (c === "\n" || c === "\t" ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
}

const LOCAL_MEANINGS: Record<string, string> = {
  ENAMETOOLONG: "a name longer than this file system allows",
  EEXIST: "a file is where a folder is needed (or a folder where a file is needed)",
  ENOTDIR: "a file is where a folder is needed",
  EISDIR: "a folder is where the file would go",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOSPC: "no space left on this disk",
  EDQUOT: "disk quota exceeded",
  EROFS: "a read-only file system",
  ELOOP: "too many symbolic links",
  EINVAL: "a name this file system does not accept",
  ERR_INVALID_ARG_VALUE: "a name with a NUL character, which no file system accepts",
  ERR_INVALID_ARG_TYPE: "a name with a NUL character, which no file system accepts",
};

/** The Node error code of a local (file-system) failure, or undefined when `err` is not one. */
export function localCode(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e === null || typeof e !== "object" || typeof e.code !== "string") return undefined;
  if (e.code.startsWith("ERR_INVALID_ARG")) return /\\0|null bytes/i.test(String(e.message)) ? e.code : undefined;
  // A network failure carries an errno code too (ECONNREFUSED, syscall "connect"): only the file system's count here.
  if (e.code in LOCAL_MEANINGS && (e.syscall === undefined || FS_SYSCALLS.has(e.syscall))) return e.code;
  return undefined;
}

const FS_SYSCALLS = new Set([
  "open", "mkdir", "rename", "write", "read", "stat", "lstat", "fstat", "utime", "futime", "lutime", "unlink", "rmdir",
  "scandir", "opendir", "symlink", "readlink", "realpath", "copyfile", "fsync", "close", "rm", "access", "chmod",
]);

/** "writing <file> here failed: ENAMETOOLONG (a name longer …)", or undefined when `err` is not a local failure. */
export function localFailure(err: unknown, doing: string): string | undefined {
  const code = localCode(err);
  if (code === undefined) return undefined;
  return `${doing} failed here, on this machine: ${code} (${LOCAL_MEANINGS[code] ?? terminalSafe(String((err as Error).message))})`;
}
