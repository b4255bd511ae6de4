#!/usr/bin/env node
/**
 * The `algo-netns` command: up, down, status and config over the topology library.
 */
import { run } from './run.js';

process.exitCode = await run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
