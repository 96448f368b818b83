// On an empty (or partly filled) volume, MetaHuman OS's default config and code-side data come from the image:
// `etc/` and `brain/` of the built app are copied under METAHUMAN_ROOT file by file, never over a person's file.
import * as fs from "node:fs";
import * as path from "node:path";

export const SEEDED_FOLDERS = ["etc", "brain"] as const;

/** Copies what is missing; returns the relative paths written. Links in the app's folders are not followed. */
export function seedFromApp(appDir: string, root: string): string[] {
  const written: string[] = [];
  const walk = (relative: string) => {
    const from = path.join(appDir, relative);
    const to = path.join(root, relative);
    const stat = fs.lstatSync(from);
    if (stat.isDirectory()) {
      fs.mkdirSync(to, { recursive: true });
      for (const name of fs.readdirSync(from)) walk(path.join(relative, name));
    } else if (stat.isFile()) {
      try {
        // COPYFILE_EXCL: a person's file is never replaced, even if it appears between a check and the copy.
        fs.copyFileSync(from, to, fs.constants.COPYFILE_EXCL);
        written.push(relative);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
    }
  };
  for (const folder of SEEDED_FOLDERS) if (fs.existsSync(path.join(appDir, folder))) walk(folder);
  return written;
}
