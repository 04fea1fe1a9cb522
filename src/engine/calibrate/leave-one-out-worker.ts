/**
 * The second lane of the leave-one-out pass (`leave-one-out.ts`): scores the photos it is sent
 * against the bank set it was started with, with its own searchers over the same index.
 */
import { workerData } from 'node:worker_threads';
import { serveLane } from '../kernels/thread-lane.js';
import { createBankSearchers } from '../score/score.js';
import { type LaneAnswer, type LaneRequest, type LaneSetup, scoreOne } from './leave-one-out.js';

const setup = workerData as LaneSetup;
const searchers = createBankSearchers(setup.bankSet, { threads: setup.threads }, setup.index ?? undefined);

serveLane<LaneRequest, LaneAnswer>(async (request) => {
  const opts = { searchers: await searchers, ...(request.excludeImage === null ? {} : { excludeImage: request.excludeImage }) };
  return scoreOne(setup.bankSet, request.query, opts, request.wantMap);
}, 'leave-one-out worker');
