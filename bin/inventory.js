#!/usr/bin/env node
'use strict';
// The AWS SDK announces that its 2027 releases will need Node 22; Node 20 is a supported local
// runtime for this project, so that one notice is not repeated on every run. Other warnings print.
const [printWarning] = process.listeners('warning');
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  const sdkNodeNotice = /NodeVersionSupportWarning/.test(`${warning.name} ${warning.message}`);
  if (!sdkNodeNotice && printWarning) printWarning(warning);
});
// Runs the TypeScript sources directly, so `npx inventory` works right after `npm ci`.
require('tsx/cjs');
require('../src/cli/main.ts').main(process.argv);
