// Package retrohunt looks through a log for the addresses the store knows:
// for each address a logscan.Scanner finds, the verdict — listed (and by
// which feeds), in a predicted netblock, whitelisted (allow-listed or a
// special-purpose range), or unknown — and, for a hit, how long after its
// prediction the address showed up in the log. It sums a run up: lines,
// addresses, hits by verdict, the addresses hit most, hits after and
// before their prediction.
//
// Verdicts are cached per address in a bounded two-generation cache, so a
// log of millions of lines asks the store once per distinct address it
// still remembers, and memory stays bounded whatever the log's size.
//
// It must never write to the store (recording sightings is the service's,
// from the hits this package reports) and never keep more of the log than
// the line being matched.
package retrohunt
