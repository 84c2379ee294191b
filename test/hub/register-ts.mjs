// `node --import ./test/hub/register-ts.mjs src/cli/main.ts ...`: runs the TypeScript sources in a child
// process (tests that must kill a real server or client process) without a build, via the typescript package.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
