/**
 * How durable a stored instance is when the archive reports it stored, and
 * so when the C-STORE SCP sends its success response.
 *
 * - 'full': the file's data and its folder entry are flushed with fsync, and
 *   the index commit is flushed too (SQLite synchronous = FULL), before the
 *   store returns. A stored instance survives a power loss or a kernel crash.
 * - 'process-crash': no fsync. The file is still written to .incoming and
 *   linked into place atomically. Its index row is committed with others up
 *   to 20 ms after the store returns, and until then the file keeps a second
 *   link in .incoming, from which the next archive open indexes it after a
 *   crash (see index-writer.ts). So a kill -9 or an application crash never
 *   leaves a half file or a lost row. A power loss may lose the instances
 *   received in the last seconds before it (until the kernel wrote them
 *   back), and those must then be sent again.
 *
 * The default is 'full'. Many modalities delete or overwrite their copy of an
 * image once the archive returned a success status for its C-STORE, so for a
 * clinical archive an instance lost after that status may be lost for good.
 * 'process-crash' suits a receiver that is not the only copy, such as a
 * cache, a migration target or a research import, where the sender can send again.
 */

export type ArchiveDurability = 'full' | 'process-crash';

export const ARCHIVE_DURABILITY_MODES: readonly ArchiveDurability[] = ['full', 'process-crash'];

export const DEFAULT_ARCHIVE_DURABILITY: ArchiveDurability = 'full';

export function isArchiveDurability(value: unknown): value is ArchiveDurability {
  return typeof value === 'string' && (ARCHIVE_DURABILITY_MODES as readonly string[]).includes(value);
}
