// Words for room names people say to each other (public/rooms.js makes "amber-otter-42"):
// short, common, spelt the way they sound, with no other word sounding the same ("pear"
// and "pair", "minor" and "miner" are out), nothing offensive on its own or next to another.
// Each list holds 256 words (lower-case a-z, 3-6 letters), none in both lists.

// The first word: how the thing is.
export const ADJECTIVES = Object.freeze([
  "able", "active", "agile", "alpine", "amber", "ample", "amused", "apt", "awake", "balmy",
  "basic", "best", "big", "bold", "bouncy", "brave", "breezy", "brief", "bright", "brisk",
  "broad", "bubbly", "busy", "calm", "candid", "cheery", "chief", "civil", "clean", "clear",
  "clever", "cloudy", "comfy", "cool", "cosmic", "crafty", "crisp", "curly", "cute", "daily",
  "dainty", "dandy", "dapper", "deep", "dense", "direct", "dry", "eager", "early", "easy", "epic",
  "equal", "even", "exact", "extra", "fabled", "fancy", "fast", "fine", "first", "fit", "fizzy",
  "flat", "fluffy", "fond", "free", "fresh", "frosty", "full", "funny", "fuzzy", "gentle",
  "giant", "gifted", "glad", "global", "glossy", "gold", "golden", "good", "grand", "grassy",
  "green", "handy", "happy", "hardy", "hazy", "hearty", "hidden", "hollow", "honest", "huge",
  "humble", "icy", "ideal", "inner", "jazzy", "jolly", "jovial", "joyful", "jumbo", "keen",
  "kind", "large", "late", "leafy", "level", "light", "lime", "little", "lively", "local",
  "lofty", "long", "loud", "lovely", "loyal", "lucid", "lucky", "lunar", "lush", "magic", "major",
  "marine", "mellow", "merry", "mighty", "mild", "mini", "mint", "misty", "modern", "modest",
  "mossy", "narrow", "navy", "neat", "nifty", "nimble", "noble", "north", "novel", "olive",
  "open", "orange", "outer", "oval", "peachy", "perky", "placid", "plucky", "plush", "polar",
  "polite", "prime", "proper", "proud", "pure", "purple", "quick", "quiet", "quirky", "rainy",
  "rapid", "rare", "ready", "regal", "rich", "ripe", "rocky", "rosy", "round", "royal", "ruby",
  "rural", "rustic", "safe", "salty", "sandy", "secret", "serene", "sharp", "shiny", "short",
  "silent", "silky", "silly", "silver", "simple", "sleek", "slim", "slow", "sly", "small",
  "smart", "smooth", "snappy", "snowy", "snug", "soft", "solar", "solid", "sonic", "spare",
  "spicy", "spotty", "spry", "steady", "still", "stormy", "stout", "strong", "sturdy", "sunlit",
  "sunny", "super", "sure", "sweet", "swift", "tall", "tame", "tangy", "tender", "tidal", "tidy",
  "timely", "tiny", "toasty", "top", "tough", "trim", "true", "trusty", "twin", "upbeat", "upper",
  "urban", "usual", "valid", "vast", "velvet", "vital", "vivid", "warm", "wavy", "wide", "wild",
  "windy", "wise", "witty", "wooden", "woody", "young", "zany", "zesty", "zippy",
]);

// The second word: an animal, a plant, a place in nature or a thing at hand.
export const NOUNS = Object.freeze([
  "acorn", "almond", "anchor", "apple", "arrow", "aspen", "atlas", "badge", "badger", "bagel",
  "bamboo", "banjo", "barley", "barrel", "basil", "basket", "bay", "beacon", "beetle", "bench",
  "birch", "bison", "bloom", "bottle", "breeze", "bridge", "brook", "bucket", "button", "cabin",
  "cactus", "camel", "camera", "candle", "canoe", "canyon", "carpet", "carrot", "castle", "cedar",
  "chalk", "cherry", "cider", "circle", "clam", "cliff", "clock", "cloud", "clover", "comet",
  "cookie", "coral", "cotton", "crane", "crayon", "creek", "cup", "daisy", "delta", "donkey",
  "dove", "dragon", "drum", "duck", "dune", "eagle", "ember", "engine", "falcon", "fern",
  "ferret", "fiddle", "field", "finch", "flag", "flute", "forest", "forge", "fox", "frog",
  "frost", "gadget", "galaxy", "garden", "garlic", "gecko", "ginger", "glade", "globe", "goose",
  "gopher", "grape", "grove", "hammer", "harp", "hawk", "helmet", "heron", "hill", "honey",
  "igloo", "island", "ivy", "jacket", "jelly", "kettle", "kite", "kitten", "kiwi", "koala",
  "ladder", "lagoon", "lake", "lamp", "lark", "leaf", "lemon", "lemur", "lens", "lily", "lion",
  "lizard", "lotus", "magnet", "magpie", "mango", "maple", "marble", "marsh", "meadow", "melon",
  "mesa", "meteor", "mirror", "mist", "mitten", "moon", "moose", "moss", "moth", "mouse",
  "muffin", "nebula", "newt", "noodle", "oak", "oasis", "ocean", "onion", "orbit", "orchid",
  "otter", "owl", "oyster", "paddle", "palm", "panda", "paper", "parcel", "parrot", "path",
  "peach", "pebble", "pencil", "pepper", "piano", "pickle", "pigeon", "pillow", "pine", "pixel",
  "pizza", "planet", "pond", "pony", "poppy", "prism", "puffin", "puppy", "puzzle", "quail",
  "rabbit", "radio", "radish", "raven", "reef", "ribbon", "ridge", "river", "robin", "rock",
  "rocket", "rover", "saddle", "sage", "sand", "sandal", "scarf", "seal", "seed", "shark",
  "sheep", "shore", "shovel", "sky", "sloth", "snail", "snow", "spiral", "spoon", "spring",
  "sprout", "spruce", "squid", "stamp", "star", "stone", "storm", "stream", "sugar", "summit",
  "swan", "table", "teapot", "tent", "ticket", "tiger", "toast", "tomato", "torch", "tower",
  "trail", "tree", "trout", "tulip", "tundra", "tunnel", "turnip", "turtle", "valley", "vine",
  "violin", "waffle", "wagon", "wallet", "walnut", "walrus", "willow", "wind", "window", "wizard",
  "wolf", "wombat", "yak", "zebra", "zipper",
]);
