/** The two inspection routes: JSON results, or the PNG itself with the figures in headers. */
import type { InspectionResultView } from '../../service/views.js';
import { checkDeclaredLength, readInspectFiles } from '../multipart.js';
import { Binary, InspectPngQuery, InspectQuery, InspectResponse, LineParams } from '../schemas.js';
import type { App, RouteDeps } from '../types.js';
import { errorResponses, multipartDoc } from './common.js';

function json(r: InspectionResultView) {
  const { heatmap, ...rest } = r;
  return heatmap ? { ...rest, heatmap: heatmap.toString('base64') } : rest;
}

export function inspectRoutes(app: App, { service, config }: RouteDeps): void {
  const tags = ['inspection'];
  app.post(
    '/v1/lines/:line/inspect',
    {
      schema: {
        tags,
        summary:
          'Score images against the active bank, or a stored one with ?bank= (multipart field "images" with 1…N files, or one raw image/* body)',
        description: `normalizedScore = score / threshold; anomalous = score > threshold. Up to ${config.maxInspectFiles} files per request.`,
        params: LineParams,
        querystring: InspectQuery,
        response: { 200: InspectResponse, ...errorResponses },
      },
      config: multipartDoc(true),
    },
    async (req) => {
      checkDeclaredLength(req, config);
      const files = await readInspectFiles(req, config.maxInspectFiles, config);
      const q = req.query;
      const heatmap = q.heatmap === 'png' ? 'heatmap' : (q.heatmap ?? 'none');
      const out = await service.inspection.inspect(req.params.line, files, {
        heatmap,
        threshold: q.threshold,
        regions: q.regions ?? false,
        opacity: q.opacity ?? 0.5,
        bank: q.bank,
      });
      return { ...out, results: out.results.map(json) };
    },
  );

  app.post(
    '/v1/lines/:line/inspect.png',
    {
      schema: {
        tags,
        summary:
          'Score one image and answer with the heatmap or overlay PNG; the figures are in X-Anomaly-* headers, the bank in X-Bank-Version / X-Bank-Active',
        params: LineParams,
        querystring: InspectPngQuery,
        response: { 200: Binary('image/png at the original image size'), ...errorResponses },
      },
      config: multipartDoc(true),
    },
    async (req, reply) => {
      checkDeclaredLength(req, config);
      const files = await readInspectFiles(req, 1, config);
      const q = req.query;
      const out = await service.inspection.inspect(req.params.line, files, {
        heatmap: q.kind ?? 'overlay',
        threshold: q.threshold,
        regions: false,
        opacity: q.opacity ?? 0.5,
        bank: q.bank,
      });
      const r = out.results[0];
      return reply
        .type('image/png')
        .header('X-Anomaly-Score', String(r.score))
        .header('X-Anomaly-Normalized-Score', String(r.normalizedScore))
        .header('X-Anomaly-Threshold', String(r.threshold))
        .header('X-Anomalous', String(r.anomalous))
        .header('X-Bank-Version', String(out.bank.version))
        .header('X-Bank-Active', String(out.bank.active))
        .send(r.heatmap!);
    },
  );
}
