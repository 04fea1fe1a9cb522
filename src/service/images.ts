/** Training images of a line: upload sessions, listing, bytes, deletion. */
import type { ServiceConfig } from '../common/config.js';
import type { Store } from '../store/index.js';
import type { ImageRecord } from '../store/types.js';
import { UploadSession } from './uploads.js';
import { imageView, type ImagePage } from './views.js';

export class ImageService {
  constructor(
    private readonly store: Store,
    private readonly config: ServiceConfig,
  ) {}

  /** Starts an upload into an existing line (404 before anything is read). */
  async beginUpload(lineId: string): Promise<UploadSession> {
    await this.store.lines.get(lineId);
    const { maxFileBytes, maxRequestBytes, maxPixels } = this.config;
    return new UploadSession(this.store.images, lineId, { maxFileBytes, maxRequestBytes, maxPixels });
  }

  async list(lineId: string, offset: number, limit: number): Promise<ImagePage> {
    await this.store.lines.get(lineId);
    const all = await this.store.images.list(lineId);
    return { total: all.length, offset, limit, images: all.slice(offset, offset + limit).map(imageView) };
  }

  async read(lineId: string, imageId: string): Promise<{ record: ImageRecord; bytes: Buffer }> {
    await this.store.lines.get(lineId);
    const record = await this.store.images.get(lineId, imageId);
    return { record, bytes: await this.store.images.readBytes(lineId, imageId) };
  }

  async delete(lineId: string, imageId: string): Promise<void> {
    await this.store.lines.get(lineId);
    await this.store.images.delete(lineId, imageId);
  }
}
