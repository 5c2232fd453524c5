import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ServiceRecordNotFound } from '../adapters/address-service.js';
import { toCapabilities } from '../domain/capabilities.js';
import { Errors } from '../domain/errors.js';
import { parseOrgIdentifier } from '../domain/identifiers.js';
import { capabilitiesSchema, errorResponses } from './schemas.js';
import type { RouteDeps } from './types.js';

export const capabilitiesRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, { addressService }) => {
  app.get(
    '/api/capabilities/:receiverIdentifier',
    {
      schema: {
        tags: ['capabilities'],
        summary: "The receiver's capabilities as the address service reports them",
        params: z.object({ receiverIdentifier: z.string().min(1).max(60) }),
        querystring: z.object({
          securityLevel: z.coerce.number().int().min(1).max(4).optional(),
          process: z.string().min(1).max(200).optional(),
        }),
        response: { 200: capabilitiesSchema, ...errorResponses },
      },
    },
    async (request) => {
      const raw = request.params.receiverIdentifier;
      const id = /^\d{11}$/.test(raw) ? raw : parseOrgIdentifier(raw)?.orgnr;
      if (!id) {
        throw Errors.validation(
          `receiverIdentifier '${raw}' must be an organisation number (9 digits, optionally 0192:)`,
        );
      }
      try {
        const res = await addressService.lookup({
          identifier: id,
          ...(request.query.process ? { process: request.query.process } : {}),
          ...(request.query.securityLevel !== undefined
            ? { securityLevel: request.query.securityLevel }
            : {}),
        });
        return toCapabilities(res);
      } catch (e) {
        if (e instanceof ServiceRecordNotFound) {
          throw Errors.identifierNotFound(`Service record not found for receiver ${id}`, {
            description: e.description,
          });
        }
        throw e;
      }
    },
  );
};
