/**
 * Tooltips of stored values: a text that Qt would take for HTML becomes an
 * HTML paragraph of the escaped text, so Qt shows the characters as stored.
 */
import { plainToolTip } from '../../src/ui/components/plain-text';

describe('plainToolTip', () => {
  test('keeps text without markup plain', () => {
    expect(plainToolTip('Иванов Иван')).toBe('Иванов Иван');
  });

  test('escapes markup', () => {
    expect(plainToolTip('<a href="file:///etc/passwd">ссылка</a>')).toBe('<p style="white-space: pre">&lt;a href=&quot;file:///etc/passwd&quot;&gt;ссылка&lt;/a&gt;</p>');
  });

  test('escapes an entity', () => {
    // Qt::mightBeRichText() takes "&lt;" before any tag for HTML, which would show it as "<".
    expect(plainToolTip('A &lt; B')).toBe('<p style="white-space: pre">A &amp;lt; B</p>');
  });

  test('escapes control characters', () => {
    expect(plainToolTip('Line\nBreak\u202e')).toBe('Line\\nBreak\\u202e');
  });
});
