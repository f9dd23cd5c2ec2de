// What the page remembers on this device (localStorage): the chosen camera, microphone and
// speaker, the display name, whether a sound plays when someone joins. A browser that keeps
// no storage (private mode, storage blocked) just forgets.

export function recall(key, fallback = null) {
  // The value saved under `key`, or `fallback` when there is none (or it cannot be read).
  try {
    const saved = localStorage.getItem(key);
    return saved === null ? fallback : JSON.parse(saved);
  } catch (err) {
    return fallback;
  }
}

export function remember(key, value) {
  // Save `value` (JSON) under `key`; nothing happens where storage is refused.
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch (err) {
    // Storage full or blocked: the choice lasts as long as the page.
  }
}
