/** `attn studio`: the web app (Playground, Attention, Training, Hub) served on this machine. */
import { startStudioServer, type RunningStudio } from '../../studio/server.js';
import { integerFlag, parseFlags, UsageError, usageLine } from '../args.js';

export const help = `Usage: attn studio [--port P] [--hub URL] [--run DIR ...] [--host H] [--max-upload-mb N]

Serves attn studio, a web app to try the pipelines, see a model's attention and positional encodings, follow
Trainer runs live and publish models to a hub, then prints its address to open in a browser.

Options:
  --port P     port to listen on (default 7860; 0 picks a free one)
  --hub URL    the hub for the Hub page and for hub model names in the pipelines (sets HF_ENDPOINT);
               default $HF_ENDPOINT, else https://huggingface.co. A token comes from $HF_TOKEN or is typed in the page
  --run DIR    a Trainer output folder (with trainer_state.json) to show on the Training page; repeatable
  --host H     address to listen on (default 127.0.0.1: only this machine)
  --max-upload-mb N  largest file the Hub page uploads (default 2048)`;

/** Parses the command line and starts the server (without waiting for a signal), for `run` and tests. */
export async function startFromArgs(argv: string[]): Promise<RunningStudio> {
  const { values } = parseFlags({
    args: argv,
    options: {
      port: { type: 'string' },
      hub: { type: 'string' },
      run: { type: 'string', multiple: true },
      host: { type: 'string' },
      'max-upload-mb': { type: 'string' },
    },
  });
  if (values.hub !== undefined) {
    try {
      new URL(values.hub);
    } catch {
      throw new UsageError(`--hub must be a URL like http://127.0.0.1:8080, got '${values.hub}'`);
    }
    // The pipelines resolve hub model names through HF_ENDPOINT: the Playground must see the Hub page's hub.
    process.env.HF_ENDPOINT = values.hub;
  }
  return startStudioServer({
    port: integerFlag(values.port, '--port', 7860),
    host: values.host ?? '127.0.0.1',
    hubEndpoint: values.hub,
    runs: values.run ?? [],
    maxUploadBytes: integerFlag(values['max-upload-mb'], '--max-upload-mb', 2048) * 1024 * 1024,
  });
}

export async function run(argv: string[]): Promise<number> {
  let studio: RunningStudio;
  try {
    studio = await startFromArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(usageLine('studio', err));
    return 2;
  }
  console.log(`attn studio: open ${studio.url} in a browser; Ctrl-C stops`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await studio.close();
  return 0;
}
