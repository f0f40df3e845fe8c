export { loadConfig, ConfigError, LOG_LEVELS, BUILT_IN_INTERACTION_TYPES } from './config.js';
export type { Config, DatabaseConfig, LogLevel, RuntimeEnv } from './config.js';
