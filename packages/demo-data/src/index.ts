export { generateDemoData, DEMO_CATEGORIES, INTERACTION_TYPES } from './generate.js';
export type { DemoData, DemoCustomer, DemoItem, DemoInteractions, DemoOptions, DemoInteractionType } from './generate.js';
export { loadDemoData, isEmpty } from './load.js';
export type { LoadResult, Progress } from './load.js';
export { Random, WeightedSampler } from './random.js';
