// Room names people can type, and new ones that are easy to say. The same rule as the
// server's (webrtc_signal/names.py), checked against the same cases (tests/room_names.json),
// so the page refuses nothing the server would take, and the reverse. No DOM: the page and
// `node --test` both import it.
//
//   import { ROOM_RULE, newRoomName, normalizeRoom } from "./rooms.js";
//   const room = normalizeRoom(typed); // " 東京　会議 " is "東京 会議"; null when refused
//   if (room === null) showError(ROOM_RULE);
//   const fresh = newRoomName(); // "amber-otter-42"
import { ADJECTIVES, NOUNS } from "./words.js";

// What a refused name is told, word for word the server's 400 message.
export const ROOM_RULE =
  "A room name is 1-64 letters, digits, spaces, '-', '_' or '.', with at least one letter or digit";

const MAX_LENGTH = 64;
// Unicode's White_Space property, written out as the server writes it: JavaScript's \s and
// Python's str.isspace() each differ from it by a few code points.
const WHITESPACE =
  "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const ENDS = new RegExp(`^[${WHITESPACE}]+|[${WHITESPACE}]+$`, "gu");
const RUNS = new RegExp(`[${WHITESPACE}]+`, "gu");
// Letters of any script (with the combining marks many scripts need), decimal digits, " ._-".
const ALLOWED = /^[\p{L}\p{M}\p{Nd} ._-]+$/u;
// Only dots, dashes or marks is nothing a person would call a name.
const LETTER_OR_DIGIT = /[\p{L}\p{Nd}]/u;

export function normalizeRoom(raw) {
  // The room `raw` names: NFC, trimmed, each inner run of whitespace one space. null when the
  // result is not 1-64 characters of the rule (code points, as the server counts them).
  if (typeof raw !== "string") return null;
  const name = raw.normalize("NFC").replace(ENDS, "").replace(RUNS, " ");
  const length = [...name].length;
  if (length < 1 || length > MAX_LENGTH) return null;
  return ALLOWED.test(name) && LETTER_OR_DIGIT.test(name) ? name : null;
}

// A new room's number: 0-999.
const NUMBERS = 1000;

function randomBelow(n) {
  // A uniform random integer in [0, n) from crypto.getRandomValues: draws that would make
  // the low numbers likelier (the top of the 32-bit range, past the last whole multiple of
  // n) are drawn again.
  const limit = 2 ** 32 - (2 ** 32 % n);
  const draw = new Uint32Array(1);
  do crypto.getRandomValues(draw);
  while (draw[0] >= limit);
  return draw[0] % n;
}

export function newRoomName() {
  // "amber-otter-42": an adjective, a noun and a number, to read out over the phone.
  // 256 adjectives x 256 nouns x 1000 numbers = 65,536,000 names. With 100 rooms in use at
  // once, the chance that any two of them drew the same name is about 1 in 13,000 (n^2/2N);
  // with 1,000 rooms, about 1 in 130. A room holds two people and keeps them private: one
  // who drew a name in use finds the room full, unless its first person is still waiting
  // alone, as with any name someone could guess.
  const adjective = ADJECTIVES[randomBelow(ADJECTIVES.length)];
  const noun = NOUNS[randomBelow(NOUNS.length)];
  return `${adjective}-${noun}-${randomBelow(NUMBERS)}`;
}
