#!/usr/bin/env node
// Reads newman's JSON report and decides the run: it passes only when there
// were assertions, none of them failed, and no request errored (a connection
// error is a failure too, not just a missing assertion).
//
// usage: node summarize.js REPORT.json LABEL
'use strict';

const fs = require('fs');

const [file, label = 'newman'] = process.argv.slice(2);
if (!file) {
  console.error('usage: summarize.js REPORT.json LABEL');
  process.exit(2);
}

let run;
try {
  run = JSON.parse(fs.readFileSync(file, 'utf8')).run;
} catch (err) {
  console.error(`${label}: cannot read the newman report ${file}: ${err.message}`);
  process.exit(1);
}

const assertions = run.stats.assertions;
const requests = run.stats.requests;
const failures = run.failures || [];
const passed = assertions.total - assertions.failed;

const SHOW = 60; // the cli reporter above has the details; this is the digest
for (const f of failures.slice(0, SHOW)) {
  const where = (f.source && f.source.name) || (f.parent && f.parent.name) || '?';
  const err = f.error || {};
  const what = err.test ? `${err.test}: ${err.message}` : `${err.name || 'Error'}: ${err.message}`;
  console.log(`  FAILED [${where}] ${what}`);
}
if (failures.length > SHOW) console.log(`  ... and ${failures.length - SHOW} more failures`);

console.log(`${label}: ${passed}/${assertions.total} assertions passed` +
  (requests.failed ? `, ${requests.failed}/${requests.total} requests errored` : ''));

if (assertions.total === 0) {
  console.log(`${label}: no assertion ran`);
  process.exit(1);
}
process.exit(assertions.failed === 0 && failures.length === 0 ? 0 : 1);
