/**
 * The second lane of `discriminatePositions` (`positions.ts`): scores the blocks of positions it
 * is sent into the shared score arrays it was started with.
 */
import { workerData } from 'node:worker_threads';
import { serveLane } from '../kernels/thread-lane.js';
import { PositionDiscriminator } from './discriminators.js';
import type { PositionLaneRequest, PositionLaneSetup } from './positions.js';

const setup = workerData as PositionLaneSetup;
const discriminator = new PositionDiscriminator(setup.set, setup.names, setup.opts, setup.scores);

serveLane<PositionLaneRequest, number>(({ from, to }) => {
  discriminator.run(from, to);
  return to;
}, 'discrimination lane');
