/** Promise wrappers around the ssh2 SFTP calls the SSH source uses. */
import type { FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';

export function readdir(sftp: SFTPWrapper, remotePath: string): Promise<FileEntryWithStats[]> {
  return new Promise((resolve, reject) => sftp.readdir(remotePath, (error, list) => (error ? reject(error) : resolve(list))));
}

export function stat(sftp: SFTPWrapper, remotePath: string): Promise<Stats> {
  return new Promise((resolve, reject) => sftp.stat(remotePath, (error, stats) => (error ? reject(error) : resolve(stats))));
}

export function lstat(sftp: SFTPWrapper, remotePath: string): Promise<Stats> {
  return new Promise((resolve, reject) => sftp.lstat(remotePath, (error, stats) => (error ? reject(error) : resolve(stats))));
}

export function realpath(sftp: SFTPWrapper, remotePath: string): Promise<string> {
  return new Promise((resolve, reject) => sftp.realpath(remotePath, (error, absolute) => (error ? reject(error) : resolve(absolute))));
}

export function openForReading(sftp: SFTPWrapper, remotePath: string): Promise<Buffer> {
  return new Promise((resolve, reject) => sftp.open(remotePath, 'r', (error, handle) => (error ? reject(error) : resolve(handle))));
}

export function fstat(sftp: SFTPWrapper, handle: Buffer): Promise<Stats> {
  return new Promise((resolve, reject) => sftp.fstat(handle, (error, stats) => (error ? reject(error) : resolve(stats))));
}

/** Reads up to `length` bytes at `position`; returns fewer bytes only at the end of the file. */
export function readAt(sftp: SFTPWrapper, handle: Buffer, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  return new Promise((resolve, reject) =>
    sftp.read(handle, buffer, 0, length, position, (error, bytesRead) => (error ? reject(error) : resolve(buffer.subarray(0, bytesRead)))),
  );
}

/** Closes a handle; errors are ignored because the handle is gone either way. */
export function closeHandle(sftp: SFTPWrapper, handle: Buffer): Promise<void> {
  return new Promise((resolve) => sftp.close(handle, () => resolve()));
}
