/**
 * Visible escapes for the characters of a stored value that would act on the
 * display instead of being drawn: control characters and the bidirectional
 * embeddings, overrides and isolates. Values read from DICOM files or from a
 * remote node pass through here before a terminal or the window shows them.
 */

/**
 * C0 controls, DEL, C1 controls, and the bidirectional formatting characters
 * U+202A-U+202E (embeddings and overrides) and U+2066-U+2069 (isolates), which
 * reorder the characters after them, so that U+202E shows a description backwards.
 */
const DISPLAY_CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const NAMED_ESCAPES: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * Replaces control characters with visible escapes: \n, \r and \t, \xHH for
 * the other C0 and C1 controls, and \uHHHH for the bidirectional formatting
 * characters. So a value cannot move a terminal's cursor, clear the screen,
 * start a new table row or line, or reverse the text after it.
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(DISPLAY_CONTROL_CHARACTER, (character) => {
    const named = NAMED_ESCAPES[character];
    if (named !== undefined) return named;
    const code = character.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}
