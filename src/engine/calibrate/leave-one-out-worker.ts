/**
 * The second lane of the leave-one-out pass (`leave-one-out.ts`): scores the photos it is sent
 * against the bank set it was started with, with its own searchers over the same index.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { appError, isAppError } from '../../common/errors.js';
import { createBankSearchers, scorePatches } from '../score/score.js';
import type { LaneReply, LaneRequest, LaneSetup } from './leave-one-out.js';

const setup = workerData as LaneSetup;
const searchers = createBankSearchers(setup.bankSet, { threads: setup.threads }, setup.index ?? undefined);

async function answer(request: LaneRequest): Promise<LaneReply> {
  try {
    const opts = { searchers: await searchers, ...(request.excludeImage === null ? {} : { excludeImage: request.excludeImage }) };
    const r = await scorePatches(setup.bankSet, request.query, opts);
    return { ok: true, imageScore: r.imageScore, mapScores: request.wantMap ? r.mapScores : null };
  } catch (err) {
    const e = isAppError(err) ? err : appError('INTERNAL', [`leave-one-out worker: ${(err as Error).message}`]);
    return { ok: false, error: { code: e.code, status: e.status, message: e.message } };
  }
}

// One request at a time, in order (the host matches replies to requests by order).
let queue: Promise<void> = Promise.resolve();
parentPort!.on('message', (request: LaneRequest) => {
  queue = queue.then(async () => parentPort!.postMessage(await answer(request)));
});
