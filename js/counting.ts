/**
 * Whether stores count their calls (js/metrics.ts): always, in the package.
 * The Node benchmark measures what counting costs against a copy of the
 * package built with this false (bench/lib/uncounted-package.mjs).
 */
export const COUNTING: boolean = true;
