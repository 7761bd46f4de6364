#!/usr/bin/env node
// `npx shopstream <command>`: runs the TypeScript CLI directly (tsx), no build step.
require('tsx/cjs');
require('./main.ts');
