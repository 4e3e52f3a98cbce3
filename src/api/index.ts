export * from './schema.js';
export * from './duration.js';
export * from './errors.js';
export * from './load.js';
export { notifyPipelineCrd, openApiSchema } from './crd.js';
