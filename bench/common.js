/**
 * Helpers shared by the bench scripts (run.js, window.js).
 */
'use strict';

const fs = require('fs');

function median(values) {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Reads /proc/PID/status and returns a function that gives one of its kB
 * fields in MiB (NaN when the field is missing), or undefined once the
 * process is gone.
 */
function readProcStatus(pid) {
  let status;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  return (name) => Number((status.match(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm')) || [])[1]) / 1024;
}

module.exports = { median, readProcStatus, sleep };
