export * from './schema.js';
export * from './duration.js';
export * from './errors.js';
export * from './load.js';
export { notifyPipelineCrd, openApiSchema } from './crd.js';
export { specReferenceMarkdown, withReference, REFERENCE_START, REFERENCE_END } from './reference.js';
