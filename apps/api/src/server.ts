import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Context, Services } from './context.js';
import { graphqlError, httpErrorCode } from './errors.js';
import { createApolloServer } from './graphql/apollo.js';
import { authRoutes } from './http/auth-routes.js';
import { importRoutes } from './http/import-route.js';
import { consoleDirectory, mountConsole } from './http/console.js';
import { authenticate, MISSING_CREDENTIALS } from './http/principal.js';
import { graphqlRoute } from './http/graphql-route.js';
import { logRequest, requestId, requestLogger } from './http/request-log.js';
import { RequestContext } from './request-context.js';

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  /** Stops accepting connections, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
}

/** A start-up problem the operator can fix; one line, no stack trace. */
export class ServerStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerStartError';
  }
}

/** Largest GraphQL request body (a bulk mutation of many records fits). */
const GRAPHQL_BODY_LIMIT_BYTES = 20 * 1024 * 1024;

function routeLabel(req: Request): string {
  const match = /^\/(graphql|auth\/session|imports|healthz|readyz|metrics)(\/|$)/.exec(req.path);
  return match ? `/${match[1]}` : 'console';
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE') {
        reject(new ServerStartError(`port ${port} on ${host} is already in use: stop the other process or set PORT to a free port`));
      } else if (error.code === 'EACCES') {
        reject(new ServerStartError(`not allowed to listen on ${host}:${port}: choose a PORT above 1023 or run with the needed rights`));
      } else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
        reject(new ServerStartError(`cannot listen on host '${host}': set HOST to an address of this machine (e.g. 127.0.0.1 or 0.0.0.0)`));
      } else {
        reject(error);
      }
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Builds the HTTP app (GraphQL, auth, health, metrics, console) and starts listening. */
export async function startServer(
  services: Services,
  options: { port?: number; host?: string } = {},
): Promise<RunningServer> {
  const { config, logger, metrics } = services;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  // Set once Apollo has started: the common GraphQL request, served without Express.
  let graphql: ((req: http.IncomingMessage, res: http.ServerResponse, expectsContinue?: boolean) => boolean) | null = null;
  const httpServer = http.createServer((req, res) => {
    if (graphql?.(req, res)) return;
    app(req, res);
  });
  // `Expect: 100-continue`: with this listener Node no longer answers "100 Continue" by itself,
  // so the GraphQL route can refuse an oversized declared body before the client sends it.
  httpServer.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (graphql?.(req, res, true)) return;
    res.writeContinue();
    app(req, res);
  });
  // Longer than common load balancers' idle timeouts, so they close first.
  httpServer.keepAliveTimeout = 65_000;

  /** Access line and duration metric of every request, whichever path serves it. */
  const begin = (req: http.IncomingMessage, res: http.ServerResponse, route: string): string => {
    const end = metrics.httpDuration.startTimer({ method: req.method ?? '', route });
    res.on('finish', () => end({ status: String(res.statusCode) }));
    return logRequest(logger, req, res);
  };
  app.use((req: Request, res: Response, next: NextFunction) => {
    begin(req, res, routeLabel(req));
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const checks: Record<string, string> = {};
    try {
      await Promise.race([
        services.database.ping(),
        new Promise((_resolve, reject) => setTimeout(() => reject(new Error('timed out after 2 s')), 2000).unref()),
      ]);
      checks['database'] = 'ok';
    } catch (error) {
      checks['database'] = (error as Error).message;
    }
    const ready = Object.values(checks).every((value) => value === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });
  app.get('/metrics', async (req, res) => {
    const credentials = await authenticate(req, services);
    if (credentials.kind !== 'ok') {
      res.status(401).json({ error: { code: 'UNAUTHENTICATED', message: credentials.kind === 'invalid' ? credentials.reason : MISSING_CREDENTIALS } });
      return;
    }
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.use('/auth', authRoutes(services));
  app.use('/imports', importRoutes(services));

  const apollo = createApolloServer(services, httpServer);
  await apollo.start();
  const context = async (req: http.IncomingMessage, requestId: string): Promise<Context> => {
    const credentials = await authenticate(req, services);
    if (credentials.kind !== 'ok') {
      throw graphqlError('UNAUTHENTICATED', credentials.kind === 'invalid' ? credentials.reason : MISSING_CREDENTIALS);
    }
    return new RequestContext(services, credentials.principal, requestId, logger);
  };
  graphql = graphqlRoute({ apollo, context, begin: (req, res) => begin(req, res, '/graphql'), limitBytes: GRAPHQL_BODY_LIMIT_BYTES, logger });
  // The rest of /graphql (GET, compressed or other bodies) through Express, as before.
  app.use(
    '/graphql',
    express.json({ limit: GRAPHQL_BODY_LIMIT_BYTES }),
    expressMiddleware(apollo, { context: async ({ req }) => context(req, requestId(req)) }),
  );

  mountConsole(app, consoleDirectory());

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = (error as { status?: number; statusCode?: number }).status ?? (error as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) requestLogger(logger, req).error({ err: error }, 'unhandled error');
    if (res.headersSent) return;
    const message =
      status === 404 ? 'not found' : status === 413 ? 'request body too large' : status < 500 ? (error as Error).message : 'Internal server error';
    res.status(status).json({ error: { code: httpErrorCode(status), message } });
  });

  const port = options.port ?? config.port;
  const host = options.host ?? config.host;
  try {
    await listen(httpServer, port, host);
  } catch (error) {
    await apollo.stop();
    throw error;
  }
  const address = httpServer.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${address.port}`,
    port: address.port,
    host,
    async close() {
      // The drain plugin stops the HTTP server and waits for in-flight requests.
      await apollo.stop();
    },
  };
}
