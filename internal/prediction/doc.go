// Package prediction turns a raw dump record into a validated Seclytics
// prediction: a canonical IP address, typed dates, a masked netblock, a
// numeric importance and clean lists.
//
// It validates one row at a time and reports what it rejected or dropped. It
// must never filter, store or allocate per row on the hot path: the returned
// [Row] borrows the record's bytes and is valid until the next Parse.
//
// The Seclytics runner no longer parses with [Parser]: it maps each record
// through the seclytics feed definition (internal/feeddef) and hands the
// stage a [Row] built from the entry. Parser stays as the independent
// reference that definition is tested against row by row, rejected rows
// included, and as the baseline of its benchmarks; [Row], [ParseIP] and
// [ParseDate] are on the runner's path.
package prediction
