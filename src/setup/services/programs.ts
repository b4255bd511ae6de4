/**
 * Finding the external programs the services need (nft, wg, conntrack) before running them, so
 * that a missing package becomes a clear message or a notice instead of a failed spawn.
 */
export { findProgram } from '../../ops/programs.js';
