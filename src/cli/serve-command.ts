import { loadConfig } from '../common/config.js';
import { serve } from './serve.js';

export async function run(): Promise<number> {
  await serve(loadConfig());
  return 0;
}
