/**
 * What an error from the buffer file says about the storage under it: the file is damaged (set it
 * aside and salvage it), the disk is full (refuse readings until there is room), or its I/O fails
 * (open the file again). Anything else is a bug, not the disk's doing.
 */

/** SQLite's verdict that a file is damaged (as opposed to full, busy or failing I/O). */
export function isDamage(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

/** Why storing failed, when it is the disk's fault: full (SQLITE_FULL, ENOSPC) or failing I/O. */
export function storageFailure(err: unknown): 'disk_full' | 'io_error' | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') return 'disk_full';
  if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN' || code === 'EIO') return 'io_error';
  return null;
}
