import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WorkerReply, WorkerRequest } from './fine-tune-worker';

/** The worker script beside this file: .ts when run from sources (tests), .js from dist. */
export const WORKER_FILE = join(__dirname, `fine-tune-worker${extname(__filename)}`);

/** From sources the worker needs the TypeScript loader the process runs with, and none of the other hooks it was started with. */
const SOURCE_EXEC_ARGV = extname(__filename) === '.ts' ? process.execArgv.filter((a) => a.includes('typescript') || a === '--enable-source-maps') : undefined;

/**
 * One worker thread per process (per script and nice value) runs every
 * engine's fine-tunes, one job at a time in the order asked: learning
 * costs at most one core whatever the number of engines. The thread holds
 * the process open only while a job runs. A worker that errors or exits
 * fails the job it was running; the next job starts a fresh one.
 */
export class FineTuneThread {
  static readonly #threads = new Map<string, FineTuneThread>();
  readonly #file: string;
  readonly #nice: number;
  #worker: Worker | undefined;
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(file: string, nice: number) {
    this.#file = file;
    this.#nice = nice;
  }

  static shared(file: string, nice: number): FineTuneThread {
    const key = `${nice}\u0000${file}`;
    let t = FineTuneThread.#threads.get(key);
    if (t === undefined) {
      t = new FineTuneThread(file, nice);
      FineTuneThread.#threads.set(key, t);
    }
    return t;
  }

  /** Queues a job; resolves with the worker's reply, rejects when the worker failed while running it. */
  run(req: WorkerRequest, transfer: ArrayBuffer[]): Promise<WorkerReply> {
    const run = this.#tail.then(() => this.#post(req, transfer));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  #post(req: WorkerRequest, transfer: ArrayBuffer[]): Promise<WorkerReply> {
    // One thread, a bounded heap: learning cannot take the process's memory with it.
    const worker = (this.#worker ??= new Worker(this.#file, {
      workerData: this.#nice,
      resourceLimits: { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 16 },
      ...(SOURCE_EXEC_ARGV ? { execArgv: SOURCE_EXEC_ARGV } : {}),
    }));
    worker.ref();
    return new Promise<WorkerReply>((resolve, reject) => {
      const done = (): void => {
        worker.unref();
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const onMessage = (r: WorkerReply): void => {
        done();
        resolve(r);
      };
      const onError = (e: Error): void => {
        done();
        this.#drop(worker);
        reject(new Error(`fine-tune worker failed: ${e.message}`));
      };
      const onExit = (code: number): void => {
        done();
        this.#drop(worker);
        reject(new Error(`fine-tune worker exited with code ${code}`));
      };
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.postMessage(req, transfer);
    });
  }

  #drop(w: Worker): void {
    if (this.#worker === w) this.#worker = undefined;
    void w.terminate();
  }
}
