/**
 * Training features spilled to a file in the line's tmp/ while a build embeds them, read back
 * image by image (engine `TrainingFeatures`): the build then holds an image's features at a time
 * instead of all of them (200 photos × 784 patches × 1024 floats are 642 MB), and reads come from
 * the page cache. `remove` deletes the file when the build ends; after a crash, startup empties tmp/.
 */
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { appError } from '../common/errors.js';
import { BUILD_ID_PATTERN, type Layout } from './paths.js';

export class FeatureSpill {
  private imageBytes = 0;
  private images = 0;

  private constructor(
    private readonly file: FileHandle,
    readonly path: string,
  ) {}

  static async create(layout: Layout, lineId: string, buildId: string): Promise<FeatureSpill> {
    if (!BUILD_ID_PATTERN.test(buildId)) throw appError('INTERNAL', [`build id ${JSON.stringify(buildId)}`]);
    const dir = layout.line(lineId).tmp;
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `features-${buildId}.f32`);
    return new FeatureSpill(await open(file, 'w+'), file);
  }

  get count(): number {
    return this.images;
  }

  /** Appends the next image's features (every image has the size of the first). */
  async append(features: Float32Array): Promise<void> {
    if (this.images === 0) this.imageBytes = features.byteLength;
    else if (features.byteLength !== this.imageBytes) {
      throw appError('INTERNAL', [`spilled features of ${features.byteLength} bytes after images of ${this.imageBytes}`]);
    }
    const bytes = new Uint8Array(features.buffer, features.byteOffset, features.byteLength);
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.file.write(bytes, done, bytes.length - done, this.images * this.imageBytes + done);
      done += bytesWritten;
    }
    this.images++;
  }

  /** Image b's features, in a fresh array. */
  async read(b: number): Promise<Float32Array> {
    if (!(Number.isInteger(b) && b >= 0 && b < this.images)) throw appError('INTERNAL', [`spilled image ${b} of ${this.images}`]);
    const out = new Float32Array(this.imageBytes / 4);
    const bytes = new Uint8Array(out.buffer);
    let done = 0;
    while (done < bytes.length) {
      const { bytesRead } = await this.file.read(bytes, done, bytes.length - done, b * this.imageBytes + done);
      if (bytesRead === 0) throw appError('INTERNAL', [`spilled features end inside image ${b}`]);
      done += bytesRead;
    }
    return out;
  }

  async remove(): Promise<void> {
    await this.file.close().catch(() => undefined);
    await rm(this.path, { force: true });
  }
}
