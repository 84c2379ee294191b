// `node --import ./test/hub/register-ts.mjs test/hub/hub-cli.mjs <args>` = `attn hub <args>` from the sources.
const { run } = await import('../../src/cli/commands/hub.ts');
process.exitCode = await run(process.argv.slice(2));
