/**
 * Byte counts for people: "512 B", "1.5 MiB". Both `loader ssh` and the
 * window's SSH panel show file sizes and download progress this way.
 */

const BINARY_UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/** Formats a size in bytes with binary units and one decimal. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < BINARY_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${BINARY_UNITS[unit]}`;
}
