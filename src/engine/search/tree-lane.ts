/**
 * A lane of the fast search's tree stage (`fast.ts`): in its own thread, with its own tree over
 * the same shared bank and index data, it augments and walks the range of queries it is sent (with
 * their coordinates, projected by the calling thread) and returns their answers and the queries
 * it left open.
 */
import { workerData } from 'node:worker_threads';
import { serveLane } from '../kernels/thread-lane.js';
import { augmentQueries, fastIndexFrom, treeWalk, type TreeLaneAnswer, type TreeLaneRequest, type TreeLaneSetup } from './fast.js';

const setup = workerData as TreeLaneSetup;
const index = fastIndexFrom(setup.bank, setup.data, { threads: 1 });

serveLane<TreeLaneRequest, TreeLaneAnswer>(({ queries, coordinates, nq, opts }) => {
  const out = { index: new Int32Array(nq), dist2: new Float32Array(nq) };
  const open = treeWalk(index, index.tree!, queries, augmentQueries(index, queries, coordinates, nq), nq, opts, out);
  return { ...out, open: Int32Array.from(open) };
}, 'search lane');
