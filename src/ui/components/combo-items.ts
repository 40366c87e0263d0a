/**
 * ComboBox items that keep their identity while their texts stay the same.
 * react-nodegui's ComboBox clears and refills itself whenever the `items`
 * array is a new object, and the clear emits currentIndexChanged(-1), so
 * fresh arrays on every render would loop through state updates.
 */
const cache = new Map<string, { text: string }[]>();

export function comboItems(texts: string[]): { text: string }[] {
  const key = texts.join('\n');
  let items = cache.get(key);
  if (!items) {
    items = texts.map((text) => ({ text }));
    cache.set(key, items);
  }
  return items;
}
