// `npm run volume -- <command>`: moves a model and a person's data to and from a network volume over RunPod's
// S3 API. Everything is in src/volume; see `npm run volume -- --help`.
import { main } from "../src/volume/cli";

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
