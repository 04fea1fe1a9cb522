/** Pieces shared by the route modules: error responses and the OpenAPI body of multipart routes. */
import { ErrorBody, MultipartImages } from '../schemas.js';

export const errorResponses = { '4xx': ErrorBody, '5xx': ErrorBody } as const;

/** Documents a multipart (and optionally raw image) request body without validating it: the handler parses it. */
export function multipartDoc(rawImage: boolean) {
  return {
    swaggerTransform: ({ schema, url }: { schema: object; url: string }) => ({
      schema: {
        ...schema,
        consumes: rawImage
          ? ['multipart/form-data', 'image/png', 'image/jpeg', 'image/webp', 'image/tiff', 'image/bmp']
          : ['multipart/form-data'],
        body: MultipartImages,
      },
      url,
    }),
  };
}
