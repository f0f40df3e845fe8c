import type { Config } from '@clientele/config';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs; credentials never reach them. */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  return pino(
    {
      level: config.logLevel,
      base: { service: 'clientele' },
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', 'password', '*.password'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
