/**
 * Texts of the window that show stored values, such as patient names and
 * study descriptions, as they are. Qt shows a tooltip, and a label in its
 * default AutoText format, as HTML when Qt::mightBeRichText() guesses so, for
 * example for a name that starts with "<b>". Then a stored value could show
 * bold text, an image or a link. This module imports no NodeGui, so it can be
 * tested without a window.
 */
import { escapeControlCharacters } from '../../services/control-characters';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

/** Replaces the characters that HTML gives a meaning (&, <, >, ") with their entities. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (character) => HTML_ESCAPES[character]);
}

/**
 * Returns a tooltip that Qt shows as exactly `text`, with control characters
 * escaped. A text with '<' or '&' becomes an HTML paragraph of the escaped
 * text, because Qt would take the plain text for HTML and has no way to mark
 * a tooltip as plain. Other texts stay plain, so they are not word-wrapped.
 */
export function plainToolTip(text: string): string {
  const escaped = escapeControlCharacters(text);
  if (!/[<&]/.test(escaped)) return escaped;
  // white-space: pre keeps repeated spaces and the one-line layout of a plain tooltip.
  return `<p style="white-space: pre">${escapeHtml(escaped)}</p>`;
}
