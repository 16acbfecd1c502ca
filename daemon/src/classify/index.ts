export * from './sql/index.js';
export * from './shell/index.js';
export * from './k8s/index.js';
