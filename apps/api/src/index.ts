export { startServer, ServerStartError } from './server.js';
export type { RunningServer } from './server.js';
export { createServices } from './services.js';
export type { Context, Services } from './context.js';
export { createLogger } from './logger.js';
export type { Logger } from './logger.js';
export { buildProgram, main } from './cli/main.js';
export { ensureDevCredentials, DEV_ADMIN_EMAIL } from './bootstrap.js';
