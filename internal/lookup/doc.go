// Package lookup answers "is this IP bad, and why?": whether the store holds
// the address as an indicator, and which stored predicted netblocks contain
// it, each summarised (how many indicators it holds, their highest
// importance, categories and clusters). An address a list feed does not
// list itself but inside a network it lists (Spamhaus DROP, FireHOL) is
// listed through the most specific such network, held in a second trie.
//
// Seclytics predicts per netblock, so an address the feed never listed can
// still lie in a netblock it predicted. The netblocks come from every stored
// indicator's lookup netblock, kept whatever context is selected, and are
// held in memory in a prefix trie ([github.com/gaissmai/bart]) built for
// containment: a lookup walks the address's covering prefixes, it never
// scans a table. Building the index reads every netblock member once (or,
// through [Scoped], only the members of the netblocks that can contain a
// few given addresses). It is immutable once built; [Service] swaps in a
// rebuilt one atomically while lookups go on.
//
// It must never write to the store, and never hold more of the store in
// memory than one summary per netblock.
package lookup
