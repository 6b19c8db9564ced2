// Package merge holds the Seclytics feed's merge semantics, the guide's
// "update existing attributes instead of creating new instances":
//
//   - Map turns a kept row into a staged record carrying only the selected
//     context, keyed so that sorting groups an IP's rows in merge order;
//   - Fold merges one IP's rows of one run: single-valued attributes come
//     from the newest row that has them, lists are unioned (at most
//     MaxListValues values each, the newest);
//   - Apply merges that result into what the store already holds: values
//     updated in place, lists extended, statuses respected, and every
//     change counted.
//
// It is pure logic on values. It must never do I/O, so that every store
// backend shares exactly the same behaviour.
package merge
