import { describeTransferSyntax } from '../../dicom/uid';

/**
 * An image or one of its frames cannot be read or rendered. The message names
 * the file, the transfer syntax (name and UID) and the reason, so the viewer
 * can show it and stay open.
 */
export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';

  constructor(
    readonly path: string,
    /** Undefined when the file header could not be read. */
    readonly transferSyntaxUid: string | undefined,
    readonly reason: string,
    /** Zero-based frame index, when one frame failed. */
    readonly frameIndex?: number,
  ) {
    super(formatMessage(path, transferSyntaxUid, reason, frameIndex));
  }
}

/** Returns the transfer syntax as "Name (UID)", or the UID alone when it is unknown. */
export function describeSyntax(uid: string): string {
  const name = describeTransferSyntax(uid)?.name;
  return name ? `${name} (${uid})` : uid;
}

function formatMessage(path: string, syntax: string | undefined, reason: string, frameIndex: number | undefined): string {
  const what = frameIndex === undefined ? 'cannot read image' : `cannot read frame ${frameIndex + 1}`;
  const syntaxPart = syntax === undefined ? '' : `, transfer syntax ${describeSyntax(syntax)}`;
  return `${path}: ${what}${syntaxPart}: ${reason}`;
}

/**
 * Returns an error's message for wrapping errors from the DICOM layer, without
 * a leading "path: " that ImageDecodeError adds again.
 */
export function reasonOf(error: unknown, path?: string): string {
  const message = error instanceof Error ? error.message : String(error);
  return path !== undefined && message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
}
