/** The Fastify instance type used by every route module (TypeBox type provider). */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ServiceConfig } from '../common/config.js';
import type { Service } from '../service/index.js';

export type App = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface RouteDeps {
  service: Service;
  config: ServiceConfig;
}
