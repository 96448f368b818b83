// Moved to src/common/http.ts (one HTTP helper for every client). Kept only as a re-export for the
// emulator and its tests until they import src/common/http directly; nothing in src/runpod uses it.
export { sleep } from "../common/http";
