import { AuthError, signIn, signOut } from '@clientele/auth';
import express, { type Request, type Response, type Router } from 'express';
import type { Services } from '../context.js';
import { authenticate, SESSION_COOKIE, sessionToken } from './principal.js';
import { FailureLimiter } from './rate-limit.js';

function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

/** Console sign-in, session check and sign-out: `/auth/session`. */
export function authRoutes(services: Services): Router {
  const router = express.Router();
  // Ten wrong passwords per address and email in fifteen minutes, then wait.
  const limiter = new FailureLimiter(10, 15 * 60_000);
  const secure = services.config.env === 'production';

  router.post('/session', express.json({ limit: '16kb' }), async (req: Request, res: Response) => {
    if (!req.is('application/json')) {
      return sendError(res, 415, 'BAD_USER_INPUT', 'expected a JSON body with email and password (Content-Type: application/json)');
    }
    const body: unknown = req.body;
    const email = typeof body === 'object' && body !== null && 'email' in body ? body.email : undefined;
    const password = typeof body === 'object' && body !== null && 'password' in body ? body.password : undefined;
    if (typeof email !== 'string' || email.trim() === '') {
      return sendError(res, 400, 'BAD_USER_INPUT', 'email: expected the address you sign in with');
    }
    if (typeof password !== 'string' || password === '') {
      return sendError(res, 400, 'BAD_USER_INPUT', 'password: expected your password');
    }
    const key = `${req.ip ?? 'unknown'}|${email.trim().toLowerCase()}`;
    const wait = limiter.retryAfter(key);
    if (wait > 0) {
      res.setHeader('Retry-After', String(Math.ceil(wait / 1000)));
      return sendError(res, 429, 'RATE_LIMITED', `too many failed sign-ins: try again in ${Math.ceil(wait / 60_000)} minutes`);
    }
    try {
      const session = await signIn(services.database.db, {
        email,
        password,
        userAgent: req.get('user-agent'),
        ttlHours: services.config.sessionTtlHours,
      });
      limiter.succeed(key);
      res.cookie(SESSION_COOKIE, session.token, {
        httpOnly: true,
        sameSite: 'strict',
        secure,
        path: '/',
        expires: session.expiresAt,
      });
      const { principal } = session;
      res.json({ user: { id: String(principal.id), email: principal.email, role: principal.role } });
    } catch (error) {
      if (error instanceof AuthError) {
        limiter.fail(key);
        return sendError(res, 401, error.code, error.message);
      }
      throw error;
    }
  });

  router.get('/session', async (req: Request, res: Response) => {
    const credentials = await authenticate(req, services);
    if (credentials.kind === 'ok' && credentials.principal.kind === 'user') {
      const { principal } = credentials;
      return res.json({ user: { id: String(principal.id), email: principal.email, role: principal.role } });
    }
    sendError(res, 401, 'UNAUTHENTICATED', credentials.kind === 'invalid' ? credentials.reason : 'not signed in');
  });

  router.delete('/session', async (req: Request, res: Response) => {
    const token = sessionToken(req);
    if (token) await signOut(services.database.db, token);
    res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure, path: '/' });
    res.status(204).end();
  });

  return router;
}
