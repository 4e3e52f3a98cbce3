export * from './plan.js';
export * from './errors.js';
export * from './apply.js';
