// rooms.js: the room-name rule on the cases the server is tested on (tests/room_names.json,
// copied beside this file by tests/test_js.py), and new names from words.js.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { ROOM_RULE, newRoomName, normalizeRoom } from "./rooms.js";
import { ADJECTIVES, NOUNS } from "./words.js";

const CASES = JSON.parse(readFileSync(new URL("./room_names.json", import.meta.url), "utf8"));

test("every shared case gets the server's answer", () => {
  assert.ok(CASES.cases.length >= 30);
  for (const { input, expected, why } of CASES.cases) {
    assert.equal(normalizeRoom(input), expected, `${why}: ${JSON.stringify(input)}`);
  }
});

test("only strings are names", () => {
  for (const raw of [null, undefined, 7, ["a"], { room: "a" }]) {
    assert.equal(normalizeRoom(raw), null);
  }
});

test("the rule says what is allowed, as the server's 400 does", () => {
  assert.ok(ROOM_RULE.startsWith("A room name is 1-64 letters, digits, spaces, '-', '_' or '.'"));
});

test("each word list holds 256 short lower-case words, none twice", () => {
  for (const words of [ADJECTIVES, NOUNS]) {
    assert.equal(words.length, 256);
    assert.ok(Object.isFrozen(words));
    for (const word of words) assert.match(word, /^[a-z]{3,6}$/);
  }
  assert.equal(new Set([...ADJECTIVES, ...NOUNS]).size, 512);
});

test("new names are adjective-noun-number, allowed as they are, and spread out", () => {
  const names = Array.from({ length: 6000 }, () => newRoomName());
  const adjectives = new Set();
  const nouns = new Set();
  const numbers = new Set();
  for (const name of names) {
    const [, adjective, noun, number] = name.match(/^([a-z]+)-([a-z]+)-(\d{1,3})$/);
    assert.ok(ADJECTIVES.includes(adjective) && NOUNS.includes(noun), name);
    assert.equal(normalizeRoom(name), name);
    adjectives.add(adjective);
    nouns.add(noun);
    numbers.add(Number(number));
  }
  // 6000 draws from 65,536,000 names: 0.27 repeats expected; 6 or more, 1 in 4 million.
  assert.ok(new Set(names).size >= names.length - 5);
  // Every word is drawn about 23 times: any of the 512 never drawn, 1 in 30 million.
  assert.equal(adjectives.size, 256);
  assert.equal(nouns.size, 256);
  assert.ok(Math.min(...numbers) >= 0 && Math.max(...numbers) <= 999);
  assert.ok(numbers.size > 980, `${numbers.size} numbers of 1000`); // about 997 expected
});
