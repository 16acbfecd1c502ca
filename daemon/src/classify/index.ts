export * from './sql/index.js';
export * from './shell/index.js';
