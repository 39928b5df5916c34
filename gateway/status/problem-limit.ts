/**
 * Problems a status lists at most: readers (status-document.ts) refuse a status with more, and the
 * writer (status.ts) caps its list to fit. Its own module so that the daemon, which writes, does
 * not load the readers' schema library.
 */
export const MAX_PROBLEMS = 100;
